/**
 * Durable enqueue (`redis.durableEnqueue`): an enqueue followed by `WAIT` on its connection.
 * Against a private primary with one replica, and a private server without any (redis-server on
 * free ports). Needs redis-server on the PATH.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  RedisBroker,
  type RedisClient,
  RedisConnection,
  RedisScript,
} from "../../src/backends/redis/mod.ts";
import { BackendError } from "../../src/model/errors/backend_error.ts";
import { componentContext, newTask } from "../contract/broker_contract.ts";
import { uniqueName } from "../support/deferred.ts";
import { hasCommand, type PrivateRedis, startRedisServer } from "../support/redis_server.ts";

async function withBroker(
  url: string,
  durableEnqueue: { replicas: number; timeoutMs: number },
  body: (broker: RedisBroker) => Promise<void>,
): Promise<void> {
  const broker = new RedisBroker({
    name: uniqueName("durable"),
    url,
    redis: { durableEnqueue, timeoutMs: 1_000 },
  });
  try {
    await broker.start(componentContext());
    await body(broker);
  } finally {
    try {
      await broker.flushAll();
    } finally {
      await broker.stop();
    }
  }
}

/** A primary and its replica, synced. */
async function primaryWithReplica(): Promise<{ primary: PrivateRedis; replica: PrivateRedis }> {
  const primary = await startRedisServer();
  const replica = await startRedisServer({
    args: ["--replicaof", "127.0.0.1", String(primary.port)],
  });
  const connection = new RedisConnection({ url: replica.url });
  try {
    for (;;) {
      const info = String(await connection.command(["INFO", "replication"]));
      if (info.includes("master_link_status:up")) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await connection.close();
  }
  return { primary, replica };
}

const servers = hasCommand("redis-server");

test("durable enqueue resolves once the replica holds the task", { skip: !servers }, async () => {
  const { primary, replica } = await primaryWithReplica();
  try {
    await withBroker(primary.url, { replicas: 1, timeoutMs: 2_000 }, async (broker) => {
      const task = newTask();
      await broker.add(task);
      const onReplica = new RedisConnection({ url: replica.url });
      try {
        const status = await onReplica.command([
          "HGET",
          `{${broker.name}}:task:${task.uuid}`,
          "status",
        ]);
        assert.equal(status, "new", "the replica has the record when add resolves");
      } finally {
        await onReplica.close();
      }
    });
  } finally {
    await replica.stop();
    await primary.stop();
  }
});

test(
  "durable enqueue fails with a BackendError saying it may be stored when no replica acknowledges",
  {
    skip: !servers,
  },
  async () => {
    const alone = await startRedisServer();
    try {
      await withBroker(alone.url, { replicas: 1, timeoutMs: 50 }, async (broker) => {
        const task = newTask();
        const error = await broker.add(task).then(() => undefined, (error: unknown) => error);
        assert.ok(error instanceof BackendError, `got ${error}`);
        assert.equal(error.sent, true);
        assert.match(error.message, /only 0 of 1 replicas acknowledged/);
        assert.match(error.message, /may have been stored/);
        assert.equal((await broker.get(task.uuid))?.status, "new", "the primary holds it");
      });
    } finally {
      await alone.stop();
    }
  },
);

test("durable enqueue refuses a replica count below 1", () => {
  assert.throws(
    () => new RedisConnection({ durableEnqueue: { replicas: 0, timeoutMs: 100 } }),
    RangeError,
  );
});

/**
 * A client that answers a durable enqueue: the script, the mark, `WAIT` (1 replica) and
 * `CLIENT ID`, which changes after the script when `reconnects` (a reconnection between the
 * script and its WAIT). Records the commands.
 */
function fakeDurableClient(reconnects: boolean, sent: string[][]): RedisClient {
  let id = 7;
  const client: RedisClient = {
    connect: () => Promise.resolve(),
    isReady: () => true,
    onReady: () => () => {},
    send: (args) => {
      sent.push([...args]);
      if (args[0] === "CLIENT") return Promise.resolve(id);
      if (args[0] === "EVALSHA") {
        if (reconnects) id++;
        return Promise.resolve("ran");
      }
      if (args[0] === "WAIT") return Promise.resolve(1);
      return Promise.resolve("OK");
    },
    duplicate: () => client,
    subscribe: () => Promise.resolve(),
    unsubscribe: () => Promise.resolve(),
    close: () => Promise.resolve(),
    destroy: () => {},
    onError: () => {},
  };
  return client;
}

const markScript = new RedisScript("mark", "return redis.call('SET', KEYS[1], '1')", 1);

test("durable enqueue marks the stream before its WAIT, in the slot of the script's first key", async () => {
  const sent: string[][] = [];
  const connection = new RedisConnection({
    createClient: () => fakeDurableClient(false, sent),
    allowEviction: true,
    durableEnqueue: { replicas: 1, timeoutMs: 100 },
  });
  try {
    assert.equal(await connection.durableScript(markScript, ["{shop}:queue"], []), "ran");
    assert.deepEqual(sent.map((args) => args[0]), ["CLIENT", "EVALSHA", "SET", "WAIT", "CLIENT"]);
    assert.deepEqual(sent[2], ["SET", "{shop}:durable", "1", "PX", "60000"]);
  } finally {
    await connection.close();
  }
});

test("durable enqueue is not acknowledged when the connection changed between the script and its WAIT", async () => {
  const connection = new RedisConnection({
    createClient: () => fakeDurableClient(true, []),
    allowEviction: true,
    durableEnqueue: { replicas: 1, timeoutMs: 100 },
  });
  try {
    await assert.rejects(
      connection.durableScript(markScript, ["{shop}:queue"], []),
      (error: unknown) =>
        error instanceof BackendError && error.sent === true &&
        /connection changed before its WAIT/.test(error.message),
    );
  } finally {
    await connection.close();
  }
});

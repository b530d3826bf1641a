/**
 * A result waiter of a task its own process enqueued while listening on the events channel skips
 * its first read (RedisStorage.expectRecord): these tests pin that it still gets every result,
 * when the final event came before the waiter started, and when the event is lost.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { QueueTasks } from "../../mod.ts";
import type { RedisStorage } from "../../src/backends/redis/mod.ts";
import { deferred, testRedisUrl, uniqueName } from "../support/deferred.ts";

/** A producer app (no worker) whose storage listens on the events channel already. */
async function listeningProducer(prefix: string) {
  const name = uniqueName(prefix);
  const producer = new QueueTasks({
    name,
    brokerUrl: testRedisUrl(),
    env: false,
    config: { logsDefaultLevel: "silent" },
  });
  const echo = producer.task("echo", (n: number) => n);
  const storage = producer.broker.storage as RedisStorage;
  // Any watch subscribes the storage to the app's events channel (resolves once subscribed).
  const unwatch = await storage.watchRecord(crypto.randomUUID(), () => {});
  const redis = createClient({ url: testRedisUrl(), RESP: 2 });
  redis.on("error", () => {});
  await redis.connect();
  /** Stores a final status on the record the way a worker would, without its event. */
  const finishQuietly = (uuid: string, returning: number) =>
    redis.sendCommand([
      "HSET",
      storage.keys.task(uuid),
      "status",
      "success",
      "returning",
      JSON.stringify(returning),
    ]);
  const close = async () => {
    unwatch();
    redis.destroy();
    await producer.flushAll();
    await producer.stop();
  };
  return { name, producer, echo, storage, redis, finishQuietly, close };
}

test("a result whose final event is lost is still delivered to the waiter of a task it enqueued", {
  timeout: 30_000,
}, async () => {
  const { echo, finishQuietly, close } = await listeningProducer("notice-lost");
  try {
    const job = await echo.addTask(7);
    // The waiter starts (and, listening since the enqueue, skips its first read); the record is
    // then finished with no event at all: only the waiter's deferred read can find it (with no
    // time limit, a waiter that relied on the event alone would never resolve).
    const result = job.result({ timeoutMs: Infinity });
    await finishQuietly(job.uuid, 7);
    const record = await result;
    assert.equal(record.status, "success");
    assert.equal(record.returning, 7);
  } finally {
    await close();
  }
});

test("a final event heard before the waiter of a task enqueued here starts makes it read at once", async () => {
  const { storage, redis, echo, finishQuietly, close } = await listeningProducer("notice-early");
  try {
    const job = await echo.addTask(8);
    // The task finishes (its event is published) before anyone waits for it.
    const heard = deferred();
    const unlisten = await storage.connection.subscribe(storage.keys.events, (message) => {
      if (message.startsWith(`${job.uuid} success`)) heard.resolve();
    });
    await finishQuietly(job.uuid, 8);
    await redis.sendCommand(["PUBLISH", storage.keys.events, `${job.uuid} success`]);
    await heard.promise; // the storage's own listener, added first, has heard it too
    unlisten();
    // The waiter reads at once (onRead sees the final record), not only when its deferred read
    // (2 s) or its time limit (1 s, whose last read does not call onRead) comes.
    const reads: Array<string | undefined> = [];
    const record = await storage.waitForStatus(job.uuid, {
      statuses: ["success"],
      timeoutMs: 1_000,
      onRead: (found) => reads.push(found?.status),
    });
    assert.equal(record?.status, "success");
    assert.deepEqual(reads, ["success"]);
  } finally {
    await close();
  }
});

test("the waiter of a task enqueued while listening reads its record once, after the final event", async () => {
  const name = uniqueName("notice-one-read");
  const url = testRedisUrl();
  const config = { logsDefaultLevel: "silent" as const };
  const producer = new QueueTasks({ name, brokerUrl: url, env: false, config });
  const worker = new QueueTasks({ name, brokerUrl: url, env: false, config });
  const gate = deferred();
  const started = deferred();
  const gated = producer.task("gated", (n: number) => n);
  worker.task("gated", async (n: number) => {
    started.resolve();
    await gate.promise;
    return n;
  });
  const echo = producer.task("echo", (n: number) => n);
  worker.task("echo", (n: number) => n);
  const monitor = createClient({ url, RESP: 2 });
  monitor.on("error", () => {});
  try {
    await worker.start();
    // A first result subscribes the producer to the events channel.
    assert.equal(await (await echo.addTask(1)).value({ timeoutMs: 10_000 }), 1);
    await monitor.connect();
    const reads: string[] = [];
    await monitor.monitor((line: string) => {
      if (line.includes(`{${name}}:task:`) && /"hgetall"/i.test(line)) reads.push(line);
    });
    const job = await gated.addTask(2);
    await started.promise; // it runs: a first read now would find it unfinished
    const result = job.result({ timeoutMs: 10_000 });
    gate.resolve();
    assert.equal((await result).returning, 2);
    // The read that returned the result went through the monitor before its reply came back.
    assert.equal(reads.length, 1, `one read, got ${reads.length}`);
  } finally {
    gate.resolve();
    monitor.destroy();
    await worker.stop();
    await producer.flushAll();
    await producer.stop();
  }
});

test("past the most tasks kept, the oldest enqueued task's waiter reads first again", async () => {
  const { storage, close } = await listeningProducer("notice-evicted");
  try {
    const uuids = Array.from({ length: 10_001 }, () => crypto.randomUUID());
    for (const uuid of uuids) storage.expectRecord(uuid);
    // None of these records exists: a waiter that reads first learns it at once (onRead sees
    // nothing, and the wait goes on until its limit); one that skips its first read does not.
    const oldest: Array<string | undefined> = [];
    await storage.waitForStatus(uuids[0], {
      statuses: ["success"],
      timeoutMs: 200,
      onRead: (found) => oldest.push(found?.status ?? "none"),
    });
    assert.deepEqual(oldest, ["none"], "the oldest was forgotten: read first");
    const newest: Array<string | undefined> = [];
    await storage.waitForStatus(uuids[10_000], {
      statuses: ["success"],
      timeoutMs: 200,
      onRead: (found) => newest.push(found?.status ?? "none"),
    });
    assert.deepEqual(newest, [], "the newest is still expected: no read before its event");
  } finally {
    await close();
  }
});

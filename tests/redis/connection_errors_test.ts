/**
 * What the Redis connection says when something is wrong (issue 16 items 1, 3, 6, 9; issue 24
 * item 8): an evicting server is refused, server refusals are typed and actionable, passwords
 * never show in any URL form, the cause of a failed connection is kept, deadlines are monotonic.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { inspect } from "node:util";
import { BackendError, ConfigError, type Logger, QueueTasks } from "../../mod.ts";
import { RedisBroker, RedisConnection } from "../../src/backends/redis/mod.ts";
import { redactUrl } from "../../src/model/_redact_url.ts";
import type { RedisClient } from "../../src/backends/redis/redis_client.ts";
import { freePort, hasCommand, startRedisServer } from "../support/redis_server.ts";
import { testRedisUrl, uniqueName } from "../support/deferred.ts";

const canRunServer = hasCommand("redis-server");

/** A logger that keeps every line. */
function keepingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const keep = (message: string, data?: Record<string, unknown>) =>
    void lines.push(message + (data ? " " + JSON.stringify(data) : ""));
  return { logger: { debug: keep, info: keep, warn: keep, error: keep }, lines };
}

test("redactUrl hides the password in every URL form", () => {
  const cases: Array<[string, string]> = [
    ["redis://u:s3cret@db:6379/0", "redis://u:***@db:6379/0"],
    ["redis://u:s3cr/3tE@db:6399", "redis://u:***@db:6399"],
    ["redis://u:a?b#c@db:6399", "redis://u:***@db:6399"],
    ["redis://u:p@ss@db:6399", "redis://u:***@db:6399"],
    ["redis://:s3cret@db:6379", "redis://:***@db:6379"],
    ["redis://s3cret@db:6379", "redis://***@db:6379"],
    ["rediss://u:s3%2Fcr@db:6380", "rediss://u:***@db:6380"],
    ["redis://db:6379?password=s3cret", "redis://db:6379?password=***"],
    ["redis://db:6379/2?db=1&Password=s3cret&x=1", "redis://db:6379/2?db=1&Password=***&x=1"],
    ["redis://u:s3cret@db:6379?password=t0psecret", "redis://u:***@db:6379?password=***"],
    ["u:s3cret@db:6379", "u:***@db:6379"],
  ];
  for (const [url, expected] of cases) assert.equal(redactUrl(url), expected, url);
});

test("a password with an unencoded / is refused with the fix, and never shown", () => {
  assert.throws(
    () => new RedisConnection({ url: "redis://u:s3cr/3tE@127.0.0.1:6399" }),
    (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.ok(!error.message.includes("s3cr") && !error.message.includes("3tE"), error.message);
      assert.match(error.message, /must be percent-encoded.*%2F/);
      return true;
    },
  );
});

test("a password in the query string never shows in errors, logs or inspect output", async () => {
  const port = await freePort();
  const secret = `qs-${crypto.randomUUID()}`;
  for (
    const url of [
      `redis://127.0.0.1:${port}?password=${secret}`,
      `redis://app:${encodeURIComponent(secret + "/x")}@127.0.0.1:${port}`,
    ]
  ) {
    const { logger, lines } = keepingLogger();
    const app = new QueueTasks({
      name: uniqueName("redact"),
      brokerUrl: url,
      env: false,
      logger,
      config: { backendTimeoutMs: 300 },
    });
    let message = "";
    await app.addTask("anything", [1]).catch((error: Error) => message = String(error.stack));
    assert.ok(message.includes("***"), message);
    await app.start().catch((error: Error) => lines.push(String(error.stack)));
    const shown = [message, ...lines, inspect(app.broker, { depth: 6 }), inspect(app, { depth: 3 })]
      .join("\n");
    assert.ok(!shown.includes(secret), `the secret shows:\n${shown}`);
    await app.stop();
  }
});

test("command deadlines use a monotonic clock: a wall clock that stops changes nothing", async () => {
  const silent: RedisClient = {
    connect: () => Promise.resolve(),
    isReady: () => true,
    onReady: () => () => {},
    send: () => new Promise(() => {}), // never answers
    duplicate: () => silent,
    subscribe: () => Promise.resolve(),
    unsubscribe: () => Promise.resolve(),
    close: () => Promise.resolve(),
    destroy: () => {},
    onError: () => {},
  };
  const connection = new RedisConnection({
    url: "redis://127.0.0.1:1",
    timeoutMs: 200,
    createClient: () => silent,
    allowEviction: true,
  });
  const realNow = Date.now;
  const frozen = realNow();
  Date.now = () => frozen - 3_600_000; // stepped back an hour, and stopped
  try {
    const guard = new Promise<string>((resolve) => setTimeout(() => resolve("hung"), 5_000));
    const outcome = await Promise.race([
      connection.command(["PING"]).then(() => "answered", (error) => error),
      guard,
    ]);
    assert.ok(outcome instanceof BackendError, `expected a BackendError, got ${outcome}`);
    assert.match(outcome.message, /no reply within 200 ms/);
    assert.equal(outcome.sent, true);
  } finally {
    Date.now = realNow;
    await connection.close();
  }
});

test("a bad database number keeps its cause, and says the task was not stored", async () => {
  const url = new URL(testRedisUrl());
  url.pathname = "/4096";
  const app = new QueueTasks({
    name: uniqueName("baddb"),
    brokerUrl: url.toString(),
    env: false,
    config: { logsDefaultLevel: "silent", backendTimeoutMs: 1_000 },
  });
  await assert.rejects(app.addTask("anything", [1]), (error: unknown) => {
    assert.ok(error instanceof BackendError, String(error));
    assert.match(error.message, /DB index is out of range/);
    assert.match(error.message, /it was not stored/);
    assert.doesNotMatch(error.message, /may have been stored/);
    assert.equal(error.sent, false);
    assert.ok(error.cause instanceof Error);
    return true;
  });
  await app.stop();
});

test("rediss:// against a plain server keeps the cause of the failed connection", async () => {
  const url = new URL(testRedisUrl());
  url.protocol = "rediss:";
  const app = new QueueTasks({
    name: uniqueName("tlsplain"),
    brokerUrl: url.toString(),
    env: false,
    config: { logsDefaultLevel: "silent", backendTimeoutMs: 1_000 },
  });
  await assert.rejects(app.addTask("anything", [1]), (error: unknown) => {
    assert.ok(error instanceof BackendError, String(error));
    assert.match(error.message, /needs a TLS server/);
    assert.match(error.message, /it was not stored/);
    return true;
  });
  await app.stop();
});

test(
  "an evicting Redis is refused at start with the setting and the fix; allowEviction accepts it",
  {
    skip: !canRunServer,
  },
  async () => {
    const server = await startRedisServer({
      args: ["--maxmemory", "5mb", "--maxmemory-policy", "allkeys-lru"],
    });
    try {
      const app = new QueueTasks({
        name: uniqueName("evict"),
        brokerUrl: server.url,
        env: false,
        config: { logsDefaultLevel: "silent", backendTimeoutMs: 2_000 },
      });
      app.task("noop", () => null);
      await assert.rejects(app.start(), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(error.message, /maxmemory-policy is "allkeys-lru"/);
        assert.match(error.message, /noeviction/);
        assert.match(error.message, /allowEviction: true/);
        return true;
      });
      await assert.rejects(app.addTask("noop"), ConfigError);
      await app.stop();

      const accepting = new QueueTasks({
        name: uniqueName("evict-ok"),
        brokerUrl: server.url,
        redis: { allowEviction: true },
        env: false,
        config: { logsDefaultLevel: "silent" },
      });
      const noop = accepting.task("noop", () => 1);
      await accepting.start();
      try {
        assert.equal(await (await noop.addTask()).value({ timeoutMs: 5_000 }), 1);
      } finally {
        await accepting.stop();
      }
    } finally {
      await server.stop();
    }
  },
);

test(
  "a full noeviction Redis refuses with a typed BackendError that names the fix, not a script SHA",
  {
    skip: !canRunServer,
  },
  async () => {
    const server = await startRedisServer({
      args: ["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"],
    });
    const broker = new RedisBroker({ name: uniqueName("oom"), url: server.url });
    try {
      const app = new QueueTasks({
        name: broker.name,
        broker,
        env: false,
        config: { logsDefaultLevel: "silent" },
      });
      app.task("fill", () => null);
      const big = "x".repeat(64 * 1024);
      let refused: unknown;
      for (let i = 0; i < 200 && refused === undefined; i++) {
        await app.addTask("fill", [big]).catch((error) => refused = error);
      }
      assert.ok(refused instanceof BackendError, `expected a BackendError, got ${refused}`);
      assert.equal(refused.reply, "OOM");
      assert.equal(refused.sent, false);
      assert.match(refused.message, /out of memory/);
      assert.match(refused.message, /it was not stored/);
      assert.doesNotMatch(refused.message, /[0-9a-f]{40}/, "no script SHA");
      await app.stop();
    } finally {
      await broker.stop();
      await server.stop();
    }
  },
);

test("NOAUTH and WRONGPASS are typed refusals that say what to fix, never 'may have been stored'", {
  skip: !canRunServer,
}, async () => {
  const password = `pw-${crypto.randomUUID()}`;
  const server = await startRedisServer({ args: ["--requirepass", password] });
  try {
    for (
      const [url, pattern] of [
        [server.url, /requires a password/],
        [
          server.url.replace("redis://", "redis://default:wrong-secret@"),
          /password in the URL is wrong/,
        ],
      ] as const
    ) {
      const app = new QueueTasks({
        name: uniqueName("auth"),
        brokerUrl: url,
        env: false,
        config: { logsDefaultLevel: "silent", backendTimeoutMs: 1_000 },
      });
      await assert.rejects(app.addTask("anything", [1]), (error: unknown) => {
        assert.ok(error instanceof BackendError, String(error));
        assert.match(error.message, pattern);
        assert.doesNotMatch(error.message, /may have been stored/);
        assert.ok(!error.message.includes("wrong-secret"), error.message);
        return true;
      });
      await app.stop();
    }
  } finally {
    await server.stop();
  }
});

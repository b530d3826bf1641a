import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { BackendError, QueueTasks } from "../../mod.ts";
import { RedisConnection } from "../../src/backends/redis/mod.ts";
import { freePort, hasCommand, startRedisServer } from "../support/redis_server.ts";
import { testRedisUrl, uniqueName } from "../support/deferred.ts";

const canRunTls = hasCommand("redis-server") && hasCommand("openssl");

async function roundTrip(app: QueueTasks): Promise<number> {
  const add = app.task("add", (a: number, b: number) => a + b);
  await app.start();
  try {
    return await (await add.addTask(20, 22)).value({ timeoutMs: 10_000 });
  } finally {
    await app.flushAll();
    await app.stop();
  }
}

test("a redis:// URL with an ACL user and password works; a wrong password fails without showing it", async () => {
  const admin = new RedisConnection({ url: testRedisUrl() });
  const user = uniqueName("qtasks-acl");
  const password = `pw-${crypto.randomUUID()}`;
  await admin.command(["ACL", "SETUSER", user, "on", `>${password}`, "~*", "&*", "+@all"]);
  try {
    const base = new URL(testRedisUrl());
    base.username = user;
    base.password = password;
    const app = new QueueTasks({
      name: uniqueName("acl"),
      brokerUrl: base.toString(),
      env: false,
      config: { logsDefaultLevel: "silent" },
    });
    assert.equal(await roundTrip(app), 42);

    base.password = "wrong-secret-password";
    const denied = new QueueTasks({
      name: uniqueName("acl-denied"),
      brokerUrl: base.toString(),
      env: false,
      config: { logsDefaultLevel: "silent", backendTimeoutMs: 2_000 },
    });
    denied.task("noop", () => null);
    await assert.rejects(denied.addTask("noop"), (error: unknown) => {
      assert.ok(error instanceof BackendError, `not a BackendError: ${error}`);
      assert.equal(error.code, "BACKEND_UNAVAILABLE");
      assert.ok(!error.message.includes("wrong-secret-password"), error.message);
      assert.ok(error.message.includes("***"), error.message);
      return true;
    });
    await denied.stop();
  } finally {
    await admin.command(["ACL", "DELUSER", user]);
    await admin.close();
  }
});

test(
  "a rediss:// URL works against a TLS server with a trusted CA",
  { skip: !canRunTls },
  async () => {
    const server = await startRedisServer({ tls: true });
    try {
      const app = new QueueTasks({
        name: uniqueName("tls"),
        brokerUrl: server.url,
        redis: { tls: { ca: server.ca } },
        env: false,
        config: { logsDefaultLevel: "silent" },
      });
      assert.equal(await roundTrip(app), 42);
    } finally {
      await server.stop();
    }
  },
);

test("a producer whose Redis is unreachable gets a BackendError after backendTimeoutMs, not a hang", async () => {
  const port = await freePort();
  const app = new QueueTasks({
    name: uniqueName("unreachable"),
    brokerUrl: `redis://app:hunter2@127.0.0.1:${port}`,
    env: false,
    config: { logsDefaultLevel: "silent", backendTimeoutMs: 500 },
  });
  const started = Date.now();
  await assert.rejects(app.addTask("anything", [1]), (error: unknown) => {
    assert.ok(error instanceof BackendError, `not a BackendError: ${error}`);
    assert.match(
      error.message,
      /^Cannot add task "anything" \([0-9a-f-]{36}\): Cannot reach Redis at redis:\/\/app:\*\*\*@127\.0\.0\.1:/,
    );
    assert.ok(!error.message.includes("hunter2"));
    assert.match(error.uuid ?? "", /^[0-9a-f-]{36}$/, "the error names the task's uuid");
    return true;
  });
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 5_000, `gave up after ${elapsed} ms`);
  assert.equal(await app.ping({ server: false }), false);
  await app.stop();
});

/**
 * The one dynamic import of a computed specifier, audited: a pool thread imports the task module
 * whose URL the program gave its ThreadPool (`new ThreadPool({ module })`, posted by the pool in
 * its `init` message), never a value read from the broker.
 */
const AUDITED_IMPORTS: ReadonlyMap<string, string> = new Map([
  ["engine/executor/pool_thread.ts", "await import(message.module)"],
]);

test("the source never evaluates code from data", () => {
  const root = new URL("../../src/", import.meta.url).pathname;
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith(".ts")) {
        let text = readFileSync(path, "utf8");
        const audited = AUDITED_IMPORTS.get(path.slice(root.length));
        if (audited !== undefined) {
          assert.equal(text.split(audited).length, 2, `${path}: the audited import is there once`);
          text = text.replace(audited, "");
        }
        if (/\beval\s*\(|new\s+Function\s*\(|\bimport\s*\(\s*[^"'`]/.test(text)) {
          offenders.push(path);
        }
      }
    }
  };
  walk(root);
  assert.deepEqual(offenders, []);
});

/**
 * The fault suite's counting rules (pure functions; the suite itself runs with
 * `deno task faults`). Also checks the private redis-server helper when redis-server is installed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import type { TaskRecord } from "../../mod.ts";
import { RedisConnection } from "../../src/backends/redis/mod.ts";
import { REDIS_SERVER, RedisServer } from "./redis_server.ts";
import { countExecutions, tally, wrongResults } from "./tally.ts";

function record(uuid: string, status: TaskRecord["status"], deliveries = 1): TaskRecord {
  return {
    uuid,
    taskName: "work",
    priority: 0,
    args: [],
    kwargs: {},
    status,
    createdAt: new Date(0),
    updatedAt: new Date(0),
    deliveries,
    attempt: 1,
    extra: {},
    returning: status === "success" ? 1 : undefined,
  };
}

test("executions are counted from RAN lines of every worker; other lines are ignored", () => {
  const counts = countExecutions([
    "READY 10 host:10:abc",
    "RAN a 10 1",
    "DONE a 10",
    "RAN b 10 1",
    "RAN a 11 2",
    "LOG warn RAN a 12 3",
  ]);
  assert.deepEqual([...counts].sort(), [["a", 2], ["b", 1]]);
});

test("tally: final statuses count, anything else (or no record) is lost", () => {
  const records = new Map<string, TaskRecord | undefined>([
    ["ok", record("ok", "success", 2)],
    ["err", record("err", "error")],
    ["cancelled", record("cancelled", "cancel")],
    ["stuck", record("stuck", "process")],
    ["queued", record("queued", "new")],
    ["missing", undefined],
  ]);
  const counts = tally(records, new Map([["ok", 2], ["err", 1]]));
  assert.equal(counts.sent, 6);
  assert.equal(counts.succeeded, 1);
  assert.equal(counts.failed, 2);
  assert.equal(counts.lost, 3);
  assert.equal(counts.duplicated, 1);
  assert.equal(counts.redelivered, 1);
  assert.deepEqual(counts.lostDetail, [
    "stuck (status process)",
    "queued (status new)",
    "missing (no record)",
  ]);
});

test("wrongResults compares the stored value of successful tasks only", () => {
  const records = new Map([["a", record("a", "success")], ["b", record("b", "error")]]);
  assert.deepEqual(wrongResults(records, new Map([["a", 1], ["b", 7]])), []);
  assert.deepEqual(wrongResults(records, new Map([["a", 2]])), ["a"]);
});

const hasRedisServer = !spawnSync(REDIS_SERVER, ["--version"]).error;

test(
  "a private redis-server: persistent across a restart, silent while paused",
  { skip: !hasRedisServer && "redis-server is not installed", timeout: 30_000 },
  async () => {
    const server = await RedisServer.start({ persistent: true, password: "s3cret" });
    const redis = new RedisConnection({ url: server.url, timeoutMs: 500 });
    try {
      assert.notEqual(server.port, 6379);
      assert.equal(await redis.command(["SET", "k", "v"]), "OK");
      server.pause();
      await assert.rejects(redis.command(["GET", "k"]), { code: "BACKEND_UNAVAILABLE" });
      server.resume();
      await server.restart();
      assert.equal(server.starts, 2);
      let value: unknown;
      for (let attempt = 0; attempt < 20 && value === undefined; attempt++) {
        value = await redis.command(["GET", "k"]).catch(() => undefined);
      }
      assert.equal(value, "v");
    } finally {
      await redis.close();
      await server.dispose();
    }
  },
);

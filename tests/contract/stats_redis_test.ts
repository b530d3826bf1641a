/**
 * The stats contract on Redis, plus the claim's TTL and the keys it writes. Needs Redis at
 * redis://127.0.0.1:6379, or at QTASKS_TEST_REDIS_URL.
 *
 * @module
 */
import { partition0Uuids, partitionsOf } from "../support/redis_partitions.ts";
import assert from "node:assert/strict";
import { test } from "node:test";
import { RedisBroker } from "../../src/backends/redis/mod.ts";
import { testRedisUrl, uniqueName } from "../support/deferred.ts";
import { statsContract } from "./stats_contract.ts";

const url = testRedisUrl();

async function dispose(broker: RedisBroker): Promise<void> {
  try {
    await broker.flushAll();
  } finally {
    await broker.stop();
    await broker.storage.globalConfig?.stop();
  }
}

statsContract("RedisGlobalConfig", {
  makeBroker: (name) => new RedisBroker({ name, url }),
  dispose: (broker) => dispose(broker as RedisBroker),
  uuid: partition0Uuids(partitionsOf(url)),
});

test("RedisGlobalConfig: a claim is one key {app}:claim:<key> with the TTL given", async () => {
  const broker = new RedisBroker({ name: uniqueName("claim-ttl"), url });
  try {
    const globalConfig = broker.storage.globalConfig!;
    assert.equal(await globalConfig.claimOnce("timer:s:1", 30_000), true);
    const ttl = Number(
      await broker.connection.command(["PTTL", `{${broker.name}}:claim:timer:s:1`]),
    );
    assert.ok(ttl > 29_000 && ttl <= 30_000, `PTTL ${ttl}`);
  } finally {
    await dispose(broker);
  }
});

test("RedisGlobalConfig: a worker record expires with its TTL and leaves the live set", async () => {
  const broker = new RedisBroker({ name: uniqueName("worker-ttl"), url });
  try {
    const globalConfig = broker.storage.globalConfig!;
    await globalConfig.reportWorker({
      workerId: "w1",
      host: "box",
      pid: 1,
      runtime: "test",
      concurrency: 1,
      startedAt: Date.now(),
      active: 0,
      processed: 1,
      failed: 0,
      ttlMs: 5_000,
    });
    const ttl = Number(
      await broker.connection.command(["PTTL", `{${broker.name}}:stats:worker:w1`]),
    );
    assert.ok(ttl > 4_000 && ttl <= 5_000, `PTTL ${ttl}`);
    // Expire it now, as if the TTL had passed.
    await broker.connection.command([
      "ZADD",
      `{${broker.name}}:stats:workers`,
      "1",
      "w1",
    ]);
    assert.deepEqual((await globalConfig.readWorkerStats()).workers, []);
  } finally {
    await dispose(broker);
  }
});

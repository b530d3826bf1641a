/**
 * The stats contract on the memory backend, plus expiry with an injected clock.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryBroker, MemoryGlobalConfig, MemoryStorage } from "../../src/backends/memory/mod.ts";
import { statsContract } from "./stats_contract.ts";

statsContract("MemoryGlobalConfig", {
  makeBroker: (name) =>
    new MemoryBroker({
      name,
      storage: new MemoryStorage({ name, globalConfig: new MemoryGlobalConfig({ name }) }),
    }),
  dispose: (broker) => broker.flushAll(),
});

test("MemoryGlobalConfig: a claim can be taken again once its TTL passed", async () => {
  let now = 1_000_000;
  const config = new MemoryGlobalConfig({ name: "claims", now: () => now });
  assert.equal(await config.claimOnce("k", 1000), true);
  now += 999;
  assert.equal(await config.claimOnce("k", 1000), false);
  now += 1;
  assert.equal(await config.claimOnce("k", 1000), true);
});

test("MemoryGlobalConfig: a worker that stops reporting drops out after its TTL, and old buckets leave the last minute", async () => {
  let now = 1_700_000_000_000;
  const config = new MemoryGlobalConfig({ name: "workers", now: () => now });
  await config.reportWorker({
    workerId: "w1",
    host: "box",
    pid: 1,
    runtime: "test",
    concurrency: 1,
    startedAt: now,
    active: 0,
    processed: 7,
    failed: 0,
    ttlMs: 20_000,
  });
  now += 19_999;
  assert.equal((await config.readWorkerStats()).workers.length, 1);
  assert.equal((await config.readWorkerStats()).lastMinute.processed, 7);
  now += 1;
  assert.equal((await config.readWorkerStats()).workers.length, 0);
  now += 60_000;
  const stats = await config.readWorkerStats();
  assert.equal(stats.lastMinute.processed, 0);
  assert.equal(stats.processed, 7);
});

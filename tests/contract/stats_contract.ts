/**
 * The contract of the stats side of the ports, shared by the memory, Redis and PostgreSQL backends:
 * `GlobalConfig.claimOnce`, `reportWorker` / `readWorkerStats`, `readThroughput`, and
 * `Broker.queueStats`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Broker, GlobalConfig, WorkerReport } from "../../src/ports/mod.ts";
import { uniqueName } from "../support/deferred.ts";

/** What a backend gives the contract. */
export interface StatsBackend {
  /** A new, unstarted broker of app `name` whose storage has a GlobalConfig. */
  makeBroker(name: string): Broker;
  /** Deletes everything of the broker's app and releases it. */
  dispose(broker: Broker): Promise<void>;
  /**
   * Makes the uuids of the tasks whose claim order matters (default `crypto.randomUUID()`): a
   * partitioned Redis app gives uuids of one partition (it promises priorities within one).
   */
  uuid?: () => string;
}

function globalConfigOf(broker: Broker): GlobalConfig {
  const globalConfig = broker.storage.globalConfig;
  assert.ok(globalConfig, "the broker's storage should have a GlobalConfig");
  return globalConfig;
}

function report(workerId: string, fields: Partial<WorkerReport> = {}): WorkerReport {
  return {
    workerId,
    host: "box",
    pid: 4242,
    runtime: "test 1.0",
    concurrency: 8,
    startedAt: 1_700_000_000_000,
    active: 0,
    processed: 0,
    failed: 0,
    ttlMs: 60_000,
    ...fields,
  };
}

/** Registers the contract tests for one backend. */
export function statsContract(label: string, backend: StatsBackend): void {
  async function withBroker(body: (broker: Broker) => Promise<void>): Promise<void> {
    const broker = backend.makeBroker(uniqueName(`stats-${label}`));
    try {
      await body(broker);
    } finally {
      await backend.dispose(broker);
    }
  }

  test(`${label}: claimOnce lets the first caller win and refuses every other one`, async () => {
    await withBroker(async (broker) => {
      const globalConfig = globalConfigOf(broker);
      const results = await Promise.all(
        Array.from({ length: 10 }, () => globalConfig.claimOnce("timer:s1:1000", 60_000)),
      );
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await globalConfig.claimOnce("timer:s1:1000", 60_000), false);
      assert.equal(await globalConfig.claimOnce("timer:s1:2000", 60_000), true);
    });
  });

  test(`${label}: claimOnce stores its record only when it wins`, async () => {
    await withBroker(async (broker) => {
      const globalConfig = globalConfigOf(broker);
      const record = (value: string) => ({ name: "timer", key: "s1", value });
      assert.equal(await globalConfig.claimOnce("k:1", 60_000, record("1")), true);
      assert.equal(await globalConfig.claimOnce("k:1", 60_000, record("2")), false);
      assert.equal(await globalConfig.get("timer", "s1"), "1");
    });
  });

  test(`${label}: claimOnce refuses an empty key and a TTL that is not a positive integer`, async () => {
    await withBroker(async (broker) => {
      const globalConfig = globalConfigOf(broker);
      await assert.rejects(globalConfig.claimOnce("", 1000), TypeError);
      await assert.rejects(globalConfig.claimOnce("k", 0), RangeError);
      await assert.rejects(globalConfig.claimOnce("k", 1.5), RangeError);
    });
  });

  test(`${label}: worker reports add up per worker, for the app and over the last minute`, async () => {
    await withBroker(async (broker) => {
      const globalConfig = globalConfigOf(broker);
      await globalConfig.reportWorker(report("w1", { processed: 5, failed: 1, active: 2 }));
      await globalConfig.reportWorker(report("w1", { processed: 3, active: 1 }));
      await globalConfig.reportWorker(report("w2", { processed: 2, failed: 2, concurrency: 4 }));
      const stats = await globalConfig.readWorkerStats();
      assert.equal(stats.processed, 10);
      assert.equal(stats.failed, 3);
      assert.deepEqual(stats.lastMinute, { processed: 10, failed: 3 });
      const byId = new Map(stats.workers.map((w) => [w.workerId, w]));
      assert.deepEqual([...byId.keys()].sort(), ["w1", "w2"]);
      const w1 = byId.get("w1")!;
      assert.equal(w1.processed, 8);
      assert.equal(w1.failed, 1);
      assert.equal(w1.active, 1);
      assert.equal(w1.host, "box");
      assert.equal(w1.pid, 4242);
      assert.equal(w1.runtime, "test 1.0");
      assert.equal(w1.concurrency, 8);
      assert.equal(w1.startedAt, 1_700_000_000_000);
      assert.ok(w1.seenAt > 0);
      assert.equal(byId.get("w2")!.concurrency, 4);
    });
  });

  test(`${label}: a stopped worker's counts stay in the totals and its record goes`, async () => {
    await withBroker(async (broker) => {
      const globalConfig = globalConfigOf(broker);
      await globalConfig.reportWorker(report("w1", { processed: 1 }));
      await globalConfig.reportWorker(report("w1", { processed: 2, stopped: true }));
      const stats = await globalConfig.readWorkerStats();
      assert.deepEqual(stats.workers, []);
      assert.equal(stats.processed, 3);
    });
  });

  test(`${label}: readThroughput sums the workers' reports per minute, oldest first`, async () => {
    await withBroker(async (broker) => {
      const globalConfig = globalConfigOf(broker);
      await globalConfig.reportWorker(report("w1", { processed: 5, failed: 2 }));
      assert.ok(globalConfig.readThroughput, "the GlobalConfig should read throughput");
      const minutes = await globalConfig.readThroughput(60);
      assert.equal(minutes.length, 60);
      for (let i = 1; i < minutes.length; i++) {
        assert.equal(minutes[i].at - minutes[i - 1].at, 60_000);
      }
      assert.equal(minutes[59].at % 60_000, 0);
      // A report near a minute's end may land in the next one: the sum over the last two holds.
      assert.equal(minutes.slice(-2).reduce((a, m) => a + m.processed, 0), 5);
      assert.equal(minutes.slice(-2).reduce((a, m) => a + m.failed, 0), 2);
      assert.equal(minutes.slice(0, -2).reduce((a, m) => a + m.processed, 0), 0);
      assert.ok(Math.abs(minutes[59].at - Date.now()) < 120_000);
      assert.equal((await globalConfig.readThroughput(3)).length, 3);
      for (const bad of [0, 61, 1.5]) {
        await assert.rejects(
          async () => await globalConfig.readThroughput!(bad),
          /minutes .* is not an integer from 1 to 60/,
        );
      }
    });
  });

  test(`${label}: queueStats counts queued tasks per priority and the claimed ones`, async () => {
    await withBroker(async (broker) => {
      assert.ok(broker.queueStats, "the broker should implement queueStats");
      const empty = await broker.queueStats();
      assert.deepEqual(empty, {
        queued: 0,
        byPriority: [],
        quarantined: 0,
        scheduled: 0,
        inFlight: 0,
      });
      const task = (priority: number, delayMs?: number) => ({
        uuid: backend.uuid?.() ?? crypto.randomUUID(),
        taskName: "t",
        priority,
        args: "[]",
        kwargs: "{}",
        extra: {},
        delayMs,
      });
      await broker.addBulk([task(5), task(0), task(5), task(-2), task(0), task(0, 60_000)]);
      const claimed = await broker.exchange({
        workerId: "w1",
        settlements: [],
        want: 1,
        leaseMs: 60_000,
        resultTtlMs: 60_000,
        maxDeliveries: 5,
        recoverLimit: 0,
      });
      assert.equal(claimed.claimed.length, 1);
      const stats = await broker.queueStats();
      assert.deepEqual(stats.byPriority, [
        { priority: 0, count: 2 },
        { priority: 5, count: 2 },
      ]);
      assert.equal(stats.queued, 4);
      assert.equal(stats.scheduled, 1);
      assert.equal(stats.inFlight, 1);
      assert.equal(stats.quarantined, 0);
    });
  });
}

/**
 * AsyncWorker under a blocked event loop and concurrent starts (issue 16, items 8 and 12), on
 * both backends.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, type Logger, QueueTasks } from "../../mod.ts";
import { MemoryBroker } from "../../src/backends/memory/mod.ts";
import { RedisBroker } from "../../src/backends/redis/mod.ts";
import { AsyncWorker } from "../../src/ports/mod.ts";
import { testRedisUrl, uniqueName } from "../support/deferred.ts";
import { backendLabel, BACKENDS, withApp } from "../support/with_app.ts";

/** A logger that keeps its warnings. */
function warningLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (message) => warnings.push(message),
    error: () => {},
  };
  return { logger, warnings };
}

/** Blocks the event loop for `ms` (a synchronous, CPU-bound task). */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* spin */ }
}

for (const backend of BACKENDS) {
  test(`${backendLabel(backend)}, a worker whose event loop was blocked past leaseMs warns and runs each task it held once`, async () => {
    const name = uniqueName("blocked");
    const { logger, warnings } = warningLogger();
    const app = new QueueTasks({
      name,
      ...(backend === "redis" ? { brokerUrl: testRedisUrl() } : {}),
      env: false,
      logger,
      config: { leaseMs: 300, maxTasksProcess: 2 },
    });
    const runs = { block: 0, beside: 0 };
    const block = app.task("block", () => {
      runs.block++;
      busy(1_000);
      return "blocked";
    });
    const beside = app.task("beside", async () => {
      runs.beside++;
      await new Promise((resolve) => setTimeout(resolve, 50));
      return "beside";
    });
    const jobs = [await beside.addTask(), await block.addTask()];
    await withApp(app, async () => {
      const values = await Promise.all(jobs.map((job) => job.value({ timeoutMs: 10_000 })));
      assert.deepEqual(values, ["beside", "blocked"]);
      assert.deepEqual(runs, { block: 1, beside: 1 }, "nothing ran twice");
      assert.ok(
        warnings.some((w) => /event loop was blocked for \d+ ms/.test(w) && /WorkerPool/.test(w)),
        `a warning names the stall and the fix: ${JSON.stringify(warnings)}`,
      );
    });
  });
}

test("AsyncWorker started twice at once starts one loop, and stop ends it", async () => {
  let watches = 0;
  let unwatches = 0;
  class CountingBroker extends MemoryBroker {
    override async watchCancellations(
      listener: (uuid: string, reason: string) => void,
    ): Promise<() => void> {
      watches++;
      const unwatch = await super.watchCancellations(listener);
      return () => {
        unwatches++;
        unwatch();
      };
    }
  }
  const broker = new CountingBroker({ name: uniqueName("twice") });
  const worker = new AsyncWorker({ broker });
  const app = new QueueTasks({
    broker,
    worker,
    env: false,
    config: { logsDefaultLevel: "silent" },
  });
  const echo = app.task("echo", (n: number) => n);
  await broker.start({ config: app.config, logger: app.logger });
  await Promise.all([worker.start(), worker.start()]);
  assert.equal(watches, 1, "one start");
  const job = await echo.addTask(5);
  assert.equal(await job.value({ timeoutMs: 5_000 }), 5);
  await worker.stop();
  assert.equal(unwatches, 1);
  assert.equal(worker.running, false);
  await broker.stop();
});

test("AsyncWorker stopped while it starts ends up stopped", async () => {
  const broker = new MemoryBroker({ name: uniqueName("stop-starting") });
  const worker = new AsyncWorker({ broker });
  const app = new QueueTasks({
    broker,
    worker,
    env: false,
    config: { logsDefaultLevel: "silent" },
  });
  await broker.start({ config: app.config, logger: app.logger });
  const started = worker.start();
  await worker.stop();
  await started;
  assert.equal(worker.running, false, "the stop waited for the start, then stopped it");
  await broker.stop();
});

for (const backend of BACKENDS) {
  test(`${backendLabel(backend)}, a second worker with the id of a live worker of the app is refused at start`, async () => {
    const name = uniqueName("dup-id");
    const make = () => {
      const app = new QueueTasks({
        name,
        ...(backend === "redis" ? { brokerUrl: testRedisUrl() } : {}),
        env: false,
        config: { logsDefaultLevel: "silent" },
      });
      const worker = new AsyncWorker({ broker: app.broker, id: "worker-1" });
      return {
        app: new QueueTasks({
          name,
          broker: app.broker,
          worker,
          env: false,
          config: { logsDefaultLevel: "silent" },
        }),
        worker,
      };
    };
    const one = make();
    const two = make();
    await one.app.start();
    try {
      await assert.rejects(two.app.start(), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(
          error.message,
          /Cannot start worker "worker-1".*a live worker with this id runs/,
        );
        return true;
      });
      await two.app.stop();
      await one.app.stop();
      // Once the first one stopped, the id is free again.
      await two.app.start();
      assert.equal(two.worker.running, true);
    } finally {
      await two.app.flushAll();
      await two.app.stop();
      await one.app.stop();
    }
  });
}

test("On Redis, a worker id whose heartbeat record comes from another host is refused", async () => {
  const name = uniqueName("dup-host");
  const app = new QueueTasks({
    name,
    brokerUrl: testRedisUrl(),
    env: false,
    config: { logsDefaultLevel: "silent" },
  });
  const worker = new AsyncWorker({ broker: app.broker, id: "shared-id" });
  const host = new QueueTasks({
    name,
    broker: app.broker,
    worker,
    env: false,
    config: { logsDefaultLevel: "silent" },
  });
  // Another process's heartbeat record under the same id, written through a broker of its own.
  const other = new RedisBroker({ name, url: testRedisUrl() });
  try {
    await other.start({ config: host.config, logger: host.logger });
    await other.storage.globalConfig?.reportWorker({
      workerId: "shared-id",
      host: "other-host",
      pid: 7,
      runtime: "test",
      concurrency: 1,
      startedAt: Date.now(),
      active: 0,
      processed: 0,
      failed: 0,
      ttlMs: 60_000,
    });
    await assert.rejects(host.start(), /a live worker with this id runs on other-host \(pid 7\)/);
  } finally {
    // The failed start stopped the app's broker: clean up through the other one.
    await host.stop();
    await other.flushAll();
    await other.stop();
  }
});

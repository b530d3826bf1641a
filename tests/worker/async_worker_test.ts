import { test } from "node:test";
import assert from "node:assert/strict";
import {
  createLogger,
  LeaseLostError,
  type Logger,
  QueueTasks,
  WorkerShutdownError,
} from "../../mod.ts";
import { MemoryBroker, MemoryStorage } from "../../src/backends/memory/mod.ts";
import {
  AsyncTaskExecutor,
  AsyncWorker,
  type ExchangeRequest,
  type ExchangeResult,
  type Lease,
  type LeaseRenewal,
  type TaskExecutor,
} from "../../src/ports/mod.ts";
import { deferred, uniqueName } from "../support/deferred.ts";

/** A memory broker that records every exchange and can be told to fail some. */
class SpyBroker extends MemoryBroker {
  requests: ExchangeRequest[] = [];
  failNext = 0;
  override exchange(request: ExchangeRequest): Promise<ExchangeResult> {
    this.requests.push(structuredClone(request));
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.reject(new Error("simulated outage"));
    }
    return super.exchange(request);
  }
}

function setup(concurrency: number, logger: Logger = createLogger("silent")) {
  const broker = new SpyBroker({ name: uniqueName("worker") });
  const worker = new AsyncWorker({ broker, concurrency });
  const app = new QueueTasks({
    broker,
    worker,
    logger,
    env: false,
    config: { shutdownGraceMs: 5_000 },
  });
  return { app, broker, worker };
}

test("AsyncWorker never runs or claims more tasks than its concurrency", async () => {
  const { app, broker, worker } = setup(3);
  const gate = deferred();
  const full = deferred();
  let running = 0;
  let peak = 0;
  const task = app.task("held", async (n: number) => {
    running++;
    peak = Math.max(peak, running);
    if (running === 3) full.resolve();
    await gate.promise;
    running--;
    return n;
  });
  const jobs = await Promise.all(Array.from({ length: 10 }, (_, i) => task.addTask(i)));
  await app.start();
  try {
    await full.promise;
    assert.equal(worker.active, 3);
    const statuses = await Promise.all(jobs.map(async (job) => (await job.get())?.status));
    assert.equal(statuses.filter((s) => s === "process").length, 3);
    assert.equal(statuses.filter((s) => s === "new").length, 7);
    assert.ok(broker.requests.every((r) => r.want <= 3), "never asked for more than free slots");
    gate.resolve();
    const values = await Promise.all(jobs.map((job) => job.value({ timeoutMs: 5_000 })));
    assert.deepEqual(values, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(peak, 3);
  } finally {
    gate.resolve();
    await app.stop();
  }
});

test("AsyncWorker settles finished tasks and claims new ones in the same exchange", async () => {
  const { app, broker } = setup(2);
  const task = app.task("quick", (n: number) => n);
  const jobs = await Promise.all(Array.from({ length: 20 }, (_, i) => task.addTask(i)));
  await app.start();
  try {
    await Promise.all(jobs.map((job) => job.value({ timeoutMs: 5_000 })));
    const fused = broker.requests.filter((r) => r.settlements.length > 0 && r.want > 0);
    assert.ok(fused.length > 0, "some exchange both settled and claimed");
    const settled = broker.requests.reduce((n, r) => n + r.settlements.length, 0);
    assert.ok(settled >= 20);
  } finally {
    await app.stop();
  }
});

test("a task with malformed stored arguments ends as error and the worker goes on", async () => {
  const { app, broker } = setup(2);
  app.task("echo", (x: unknown) => x);
  await broker.add({
    uuid: "22222222-2222-4222-8222-222222222222",
    taskName: "echo",
    priority: 0,
    args: "{not json",
    kwargs: "{}",
    extra: {},
  });
  const good = await app.addTask("echo", ["fine"]);
  await app.start();
  try {
    const bad = await app.result("22222222-2222-4222-8222-222222222222").result({
      timeoutMs: 5_000,
    });
    assert.equal(bad.status, "error");
    assert.equal(bad.error?.type, "InvalidPayloadError");
    assert.match(bad.error?.message ?? "", /not valid JSON/);
    assert.equal(await good.value({ timeoutMs: 5_000 }), "fine");
  } finally {
    await app.stop();
  }
});

test("a task enqueued under an unknown name ends as UnknownTaskError and the worker goes on", async () => {
  const { app } = setup(1);
  // Sent while the app registers nothing, as a producer without the tasks would.
  const unknown = await app.addTask("unknown");
  app.task("known", () => "ok");
  const known = await app.addTask("known");
  await app.start();
  try {
    const record = await unknown.result({ timeoutMs: 5_000 });
    assert.equal(record.status, "error");
    assert.equal(record.error?.type, "UnknownTaskError");
    assert.equal(record.error?.code, "UNKNOWN_TASK");
    assert.equal(await known.value({ timeoutMs: 5_000 }), "ok");
  } finally {
    await app.stop();
  }
});

test("AsyncWorker keeps its results and retries when the broker exchange fails", async () => {
  const warnings: string[] = [];
  const logger: Logger = { ...createLogger("silent"), warn: (message) => warnings.push(message) };
  const { app, broker } = setup(2, logger);
  const task = app.task("t", (n: number) => n * 10);
  const jobs = await Promise.all([1, 2, 3].map((n) => task.addTask(n)));
  broker.failNext = 2;
  await app.start();
  try {
    assert.deepEqual(
      await Promise.all(jobs.map((job) => job.value({ timeoutMs: 5_000 }))),
      [10, 20, 30],
    );
    assert.ok(warnings.some((w) => /broker exchange failed \(simulated outage\)/.test(w)));
  } finally {
    await app.stop();
  }
});

test("stop lets running tasks finish within the grace period", async () => {
  const { app } = setup(2);
  const started = deferred();
  const release = deferred();
  const task = app.task("slow", async () => {
    started.resolve();
    await release.promise;
    return "done";
  });
  const job = await task.addTask();
  await app.start();
  await started.promise;
  const stopping = app.stop({ graceMs: 5_000 });
  release.resolve();
  await stopping;
  const record = await job.get();
  assert.equal(record?.status, "success");
  assert.equal(record?.returning, "done");
});

test("stop gives tasks still running after the grace period back to the queue", async () => {
  const { app } = setup(1);
  const started = deferred();
  let signal: AbortSignal | undefined;
  const task = app.task({ name: "stuck", echo: true }, (ctx) => {
    signal = ctx.signal;
    started.resolve();
    return new Promise(() => {});
  });
  const job = await task.addTask();
  await app.start();
  await started.promise;
  await app.stop({ graceMs: 20 });
  assert.equal(signal?.aborted, true);
  assert.ok(signal?.reason instanceof WorkerShutdownError, "aborted with WorkerShutdownError");
  assert.equal(signal.reason.code, "WORKER_SHUTDOWN");
  const record = await job.get();
  assert.equal(record?.status, "new");
  assert.equal(record?.deliveries, 1);
});

test("a running task whose lease is lost is aborted with LeaseLostError", async () => {
  /** A broker that says every lease it is asked to renew was lost. */
  class LosingBroker extends MemoryBroker {
    override async extendLeases(
      workerId: string,
      leases: Lease[],
      leaseMs: number,
    ): Promise<LeaseRenewal> {
      const renewal = await super.extendLeases(workerId, leases, leaseMs);
      return { lost: leases.map((lease) => lease.uuid), cancelled: renewal.cancelled };
    }
  }
  const broker = new LosingBroker({ name: uniqueName("worker") });
  const worker = new AsyncWorker({ broker, concurrency: 1 });
  const app = new QueueTasks({
    broker,
    worker,
    logger: createLogger("silent"),
    env: false,
    config: { leaseMs: 150 },
  });
  const aborted = deferred<unknown>();
  const task = app.task({ name: "held", echo: true }, (ctx) =>
    new Promise((_, reject) => {
      ctx.signal.addEventListener("abort", () => {
        aborted.resolve(ctx.signal.reason);
        reject(ctx.signal.reason);
      }, { once: true });
    }));
  const job = await task.addTask();
  await app.start();
  try {
    const reason = await aborted.promise;
    assert.ok(reason instanceof LeaseLostError, "aborted with LeaseLostError");
    assert.equal(reason.code, "LEASE_LOST");
    assert.equal(reason.uuid, job.uuid);
  } finally {
    await app.stop({ graceMs: 0 });
  }
});

test("an AsyncWorker needs a broker, a positive concurrency and an app", async () => {
  // @ts-expect-error: broker is required
  assert.throws(() => new AsyncWorker({}), TypeError);
  assert.throws(() => new AsyncWorker({ broker: new MemoryBroker(), concurrency: 0 }), RangeError);
  await assert.rejects(
    new AsyncWorker({ broker: new MemoryBroker() }).start(),
    /not attached to an app/,
  );
});

test("deleteFinishedTasks deletes finished records at worker start and keeps queued ones", async () => {
  const broker = new MemoryBroker({ name: uniqueName("delete-finished") });
  const first = new QueueTasks({ broker, env: false, config: { logsDefaultLevel: "silent" } });
  const task = first.task("t", (n: number) => n);
  await first.start();
  const finished = await task.addTask(1);
  await finished.result({ timeoutMs: 5_000 });
  await first.stop();
  const queued = await task.addTask(2);

  const second = new QueueTasks({
    broker,
    env: false,
    config: { logsDefaultLevel: "silent", deleteFinishedTasks: true },
  });
  const release = deferred();
  second.task("t", async (n: number) => {
    await release.promise;
    return n;
  });
  await second.start();
  try {
    assert.equal(await finished.get(), undefined, "the finished record is gone");
    assert.notEqual(await queued.get(), undefined, "the queued task is kept");
    release.resolve();
    assert.equal(await queued.value({ timeoutMs: 5_000 }), 2);
  } finally {
    release.resolve();
    await second.stop();
  }
});

/**
 * Claims up to three tasks (1 s leases) as a worker "dead-worker" that then never renews its
 * leases, as if it had died right after claiming.
 */
function claimAsDeadWorker(broker: MemoryBroker): Promise<ExchangeResult> {
  return broker.exchange({
    workerId: "dead-worker",
    settlements: [],
    want: 3,
    leaseMs: 1_000,
    resultTtlMs: 60_000,
    maxDeliveries: 5,
    recoverLimit: 0,
  });
}

test("runningOlderTasks re-queues every task whose lease expired when the worker starts", async () => {
  let now = Date.now();
  const storage = new MemoryStorage({ name: uniqueName("older"), now: () => now });
  const broker = new MemoryBroker({ storage });
  const infos: string[] = [];
  const logger: Logger = { ...createLogger("silent"), info: (message) => infos.push(message) };
  const app = new QueueTasks({
    broker,
    logger,
    env: false,
    config: { runningOlderTasks: true, leaseMs: 1_000 },
  });
  const task = app.task("t", (n: number) => n * 2);
  const jobs = await Promise.all([1, 2, 3].map((n) => task.addTask(n)));
  // A worker that died after claiming: its leases are never renewed.
  const claimed = await claimAsDeadWorker(broker);
  assert.equal(claimed.claimed.length, 3);
  now += 1_001;
  await app.start();
  try {
    assert.ok(
      infos.includes("Recovered 3 tasks with expired leases (runningOlderTasks)"),
      infos.join("\n"),
    );
    assert.deepEqual(await Promise.all(jobs.map((job) => job.value({ timeoutMs: 5_000 }))), [
      2,
      4,
      6,
    ]);
    assert.deepEqual((await Promise.all(jobs.map((job) => job.get()))).map((r) => r?.deliveries), [
      2,
      2,
      2,
    ]);
  } finally {
    await app.stop();
  }
});

test("a task recovered from a dead worker runs alone: nothing else runs beside it", async () => {
  let now = Date.now();
  const storage = new MemoryStorage({ name: uniqueName("quarantine"), now: () => now });
  const broker = new MemoryBroker({ storage });
  const app = new QueueTasks({
    broker,
    env: false,
    config: { logsDefaultLevel: "silent", leaseMs: 1_000, maxTasksProcess: 5 },
  });
  const running = new Set<number>();
  const overlaps: string[] = [];
  const recovered = new Set([1, 2, 3]);
  const task = app.task("t", async (n: number) => {
    for (const other of running) {
      if (recovered.has(n) || recovered.has(other)) overlaps.push(`${n} beside ${other}`);
    }
    running.add(n);
    await new Promise((resolve) => setTimeout(resolve, 5));
    running.delete(n);
    return n;
  });
  const jobs = await Promise.all([1, 2, 3].map((n) => task.addTask(n)));
  await claimAsDeadWorker(broker);
  now += 1_001;
  jobs.push(...await Promise.all([11, 12, 13, 14, 15, 16].map((n) => task.addTask(n))));
  await app.start();
  try {
    const values = await Promise.all(jobs.map((job) => job.value({ timeoutMs: 5_000 })));
    assert.deepEqual(values, [1, 2, 3, 11, 12, 13, 14, 15, 16]);
    assert.deepEqual(overlaps, []);
  } finally {
    await app.stop();
  }
});

test("a cancelled task that never looks at its signal ends as cancel at once", async () => {
  const { app } = setup(2);
  const started = deferred();
  const task = app.task("deaf", () => {
    started.resolve();
    return new Promise(() => {});
  });
  await app.start();
  try {
    const job = await task.addTask();
    await started.promise;
    assert.equal(await job.cancel("stop it"), "cancelling");
    const record = await job.result({ timeoutMs: 5_000 });
    assert.equal(record.status, "cancel");
    assert.equal(record.cancelReason, "stop it");
  } finally {
    await app.stop();
  }
});

test("a wrapping executor that passes its own signal to the default one still ends the task with it", async () => {
  const broker = new SpyBroker({ name: uniqueName("worker") });
  const inner = new AsyncTaskExecutor();
  const executor: TaskExecutor = {
    execute(run) {
      const own = new AbortController();
      setTimeout(() => own.abort(new Error("the wrapper's own limit")), 20);
      return inner.execute({ ...run, signal: own.signal });
    },
  };
  const worker = new AsyncWorker({ broker, concurrency: 2, executor });
  const app = new QueueTasks({ broker, worker, logger: createLogger("silent"), env: false });
  const task = app.task("slow", () => new Promise(() => {}));
  await app.start();
  try {
    const job = await task.addTask();
    const record = await job.result({ timeoutMs: 5_000 });
    assert.equal(record.status, "error");
    assert.equal(record.error?.message, "the wrapper's own limit");
  } finally {
    await app.stop();
  }
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { QueueTasks } from "../../mod.ts";
import { MemoryBroker } from "../../src/backends/memory/mod.ts";
import {
  AsyncWorker,
  type ExchangeRequest,
  type ExchangeResult,
  type Lease,
  type LeaseRenewal,
} from "../../src/ports/mod.ts";
import { deferred, uniqueName } from "../support/deferred.ts";

/**
 * A memory broker with a network in front of it: every exchange takes `tripMs` (a timer standing
 * for the round trip to Redis), and listeners hear about each exchange once the worker has taken
 * in its reply.
 */
class DistantBroker extends MemoryBroker {
  #afterExchange = new Set<() => void>();
  #afterRenewal = new Set<() => void>();
  readonly tripMs: number;
  /** Lease sets of each renewal, and tasks given back to the queue, so far. */
  renewed: string[][] = [];
  released = 0;

  constructor(tripMs: number) {
    super({ name: uniqueName("ahead") });
    this.tripMs = tripMs;
  }

  override async exchange(request: ExchangeRequest): Promise<ExchangeResult> {
    if (this.tripMs > 0) await new Promise((resolve) => setTimeout(resolve, this.tripMs));
    const result = await super.exchange(request);
    this.released += request.settlements.filter((s) => s.status === "release").length;
    // The worker absorbs the reply in a promise job; listeners run after it.
    setTimeout(() => {
      for (const listener of [...this.#afterExchange]) listener();
    }, 0);
    return result;
  }

  override async extendLeases(
    workerId: string,
    leases: Lease[],
    leaseMs: number,
  ): Promise<LeaseRenewal> {
    const renewal = await super.extendLeases(workerId, leases, leaseMs);
    this.renewed.push(leases.map((lease) => lease.uuid));
    for (const listener of [...this.#afterRenewal]) listener();
    return renewal;
  }

  /** Resolves after the first exchange (from now) whose reply leaves `ready()` true. */
  until(ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!ready()) return;
        this.#afterExchange.delete(check);
        resolve();
      };
      this.#afterExchange.add(check);
    });
  }

  /** Resolves after the next lease renewal. */
  nextRenewal(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#afterRenewal.delete(done);
        resolve();
      };
      this.#afterRenewal.add(done);
    });
  }
}

function setup(
  options: { concurrency: number; prefetch?: number; tripMs: number; maxTasksPrefetch?: number },
) {
  const broker = new DistantBroker(options.tripMs);
  const worker = new AsyncWorker({
    broker,
    concurrency: options.concurrency,
    prefetch: options.prefetch,
  });
  const app = new QueueTasks({
    broker,
    worker,
    env: false,
    config: {
      logsDefaultLevel: "silent",
      shutdownGraceMs: 5_000,
      leaseMs: 300,
      maxTasksPrefetch: options.maxTasksPrefetch,
    },
  });
  return { app, broker, worker };
}

test("AsyncWorker claims short tasks ahead of its free slots and still runs no more than its concurrency", async () => {
  const { app, worker } = setup({ concurrency: 2, prefetch: 10, tripMs: 3 });
  let running = 0;
  let peakRunning = 0;
  let peakHeld = 0;
  const task = app.task("short", (n: number) => {
    running++;
    peakRunning = Math.max(peakRunning, running);
    peakHeld = Math.max(peakHeld, worker.held);
    running--;
    return n;
  });
  const jobs = await task.addTasks(Array.from({ length: 200 }, (_, i) => [i] as [number]));
  await app.start();
  try {
    const values = await Promise.all(jobs.map((job) => job.value({ timeoutMs: 10_000 })));
    assert.deepEqual(values, Array.from({ length: 200 }, (_, i) => i));
    assert.equal(peakRunning, 1, "a synchronous task runs alone");
    assert.ok(peakHeld > 2, `held up to ${peakHeld} tasks: some were claimed ahead`);
    assert.ok(peakHeld <= 2 + 10, `held up to ${peakHeld} tasks: at most concurrency + prefetch`);
  } finally {
    await app.stop();
  }
});

test("AsyncWorker claims nothing ahead for tasks slower than an exchange round trip", async () => {
  const { app, broker, worker } = setup({ concurrency: 2, prefetch: 10, tripMs: 0 });
  let peakHeld = 0;
  const task = app.task("slow", async (n: number) => {
    await new Promise((resolve) => setTimeout(resolve, 20)); // the task's own work
    peakHeld = Math.max(peakHeld, worker.held);
    return n;
  });
  const spied: number[] = [];
  const exchange = broker.exchange.bind(broker);
  broker.exchange = (request) => {
    spied.push(worker.held + request.want);
    return exchange(request);
  };
  const jobs = await task.addTasks(Array.from({ length: 8 }, (_, i) => [i] as [number]));
  await app.start();
  try {
    await Promise.all(jobs.map((job) => job.value({ timeoutMs: 10_000 })));
    assert.ok(peakHeld <= 2, `held up to ${peakHeld} tasks`);
    assert.ok(spied.every((n) => n <= 2), `held + claimed: ${spied.join(", ")}`);
  } finally {
    await app.stop();
  }
});

for (
  const [title, limits] of [
    ["prefetch 0", { prefetch: 0 }],
    ["maxTasksPrefetch 0 in the config", { maxTasksPrefetch: 0 }],
  ] as const
) {
  test(`${title} never claims ahead, even for short tasks`, async () => {
    const { app, worker } = setup({ concurrency: 2, tripMs: 3, ...limits });
    assert.equal(worker.prefetch, 0);
    await shortTasksHeldAtMost(app, worker, 2);
  });
}

test("the worker's prefetch comes from maxTasksPrefetch unless its option sets it", () => {
  assert.equal(setup({ concurrency: 2, tripMs: 0, maxTasksPrefetch: 7 }).worker.prefetch, 7);
  assert.equal(setup({ concurrency: 2, tripMs: 0 }).worker.prefetch, 100);
  assert.equal(
    setup({ concurrency: 2, tripMs: 0, prefetch: 3, maxTasksPrefetch: 7 }).worker.prefetch,
    3,
  );
});

/** Runs 50 short tasks and checks the worker never held more than `limit`. */
async function shortTasksHeldAtMost(
  app: QueueTasks,
  worker: AsyncWorker,
  limit: number,
): Promise<void> {
  let peakHeld = 0;
  const task = app.task("short", (n: number) => {
    peakHeld = Math.max(peakHeld, worker.held);
    return n;
  });
  const jobs = await task.addTasks(Array.from({ length: 50 }, (_, i) => [i] as [number]));
  await app.start();
  try {
    await Promise.all(jobs.map((job) => job.value({ timeoutMs: 10_000 })));
    assert.ok(peakHeld <= limit, `held up to ${peakHeld} tasks`);
  } finally {
    await app.stop();
  }
}

/**
 * A worker (concurrency 1, prefetch 10) that has measured short tasks, now running a task held
 * at `gate` with `ahead` tasks claimed behind it.
 */
async function holdingAhead() {
  const { app, broker, worker } = setup({ concurrency: 1, prefetch: 10, tripMs: 3 });
  const gate = deferred();
  const ran: number[] = [];
  const quick = app.task("quick", (n: number) => {
    ran.push(n);
    return n;
  });
  const held = app.task("held", async () => {
    await gate.promise;
    return "released";
  });
  await app.start();
  // Teach the worker what a task and a round trip cost.
  for (const job of await quick.addTasks([[-1], [-2], [-3]])) {
    await job.value({ timeoutMs: 5_000 });
  }
  const first = await held.withOptions({ priority: -10 }).addTask();
  const behind = await quick.addTasks(Array.from({ length: 20 }, (_, i) => [i] as [number]));
  await broker.until(() => worker.held > 1);
  assert.equal(worker.active, 1);
  return { app, broker, worker, gate, ran, first, behind };
}

test("stop gives tasks claimed ahead straight back to the queue while running ones finish", async () => {
  const { app, broker, worker, gate, ran, first, behind } = await holdingAhead();
  const ahead = worker.held - 1;
  const stopped = app.stop();
  try {
    // Given back at once, while the held task is still running.
    await broker.until(() => broker.released === ahead);
    const statuses = await Promise.all(behind.map(async (job) => (await job.get())?.status));
    assert.ok(statuses.every((s) => s === "new"), statuses.join(", "));
    assert.equal((await first.get())?.status, "process");
  } finally {
    gate.resolve();
    await stopped;
  }
  assert.equal((await first.get())?.status, "success");
  assert.deepEqual(ran.filter((n) => n >= 0), [], "no task claimed ahead ran");
});

test("cancelling a task claimed ahead ends it as cancel without running it", async () => {
  const { app, gate, ran, behind } = await holdingAhead();
  try {
    const victim = behind[0];
    await victim.cancel("not needed");
    const record = await victim.result({ timeoutMs: 5_000 });
    assert.equal(record.status, "cancel");
    gate.resolve();
    await Promise.all(behind.slice(1).map((job) => job.value({ timeoutMs: 5_000 })));
    assert.ok(!ran.includes(0), "the cancelled task never ran");
    assert.equal(ran.filter((n) => n >= 0).length, 19);
  } finally {
    gate.resolve();
    await app.stop();
  }
});

test("AsyncWorker renews the leases of tasks claimed ahead", async () => {
  const { app, broker, worker, gate, behind } = await holdingAhead();
  try {
    await broker.nextRenewal();
    const renewed = new Set(broker.renewed.at(-1));
    const heldAhead = behind.filter((job) => renewed.has(job.uuid));
    assert.equal(heldAhead.length, worker.held - 1, "every task claimed ahead was renewed");
  } finally {
    gate.resolve();
    await app.stop();
  }
});

/**
 * WorkerPool and ThreadPool: tasks run on threads that import tests/worker/fixtures/pool_app.ts,
 * on the memory backend and on Redis (the same tests, run twice). Tasks and tests talk over
 * BroadcastChannels (fixtures/pool_tasks.ts), so every wait is for an event. Threads are counted
 * by a factory that wraps the runtime's: none may be left after a stop. Needs Redis at
 * redis://127.0.0.1:6379, or at QTASKS_TEST_REDIS_URL.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  createLogger,
  DeliveryLimitError,
  LeaseLostError,
  QueueTasks,
  type TaskRecord,
  ThreadPool,
  type ThreadPoolOptions,
  UnrecoverableError,
  ValidationError,
  WorkerPool,
  WorkerShutdownError,
} from "../../mod.ts";
import { MemoryBroker } from "../../src/backends/memory/mod.ts";
import { RedisBroker } from "../../src/backends/redis/mod.ts";
import type { Broker, TaskOutcome, TaskRun } from "../../src/ports/mod.ts";
import {
  getThreadFactory,
  type ThreadFactory,
  type ThreadListener,
} from "../../src/runtime/mod.ts";
import { testRedisUrl, uniqueName } from "../support/deferred.ts";
import { encodeThreadError, rebuildThreadError } from "../../src/engine/executor/_thread_error.ts";
import { hear, registerPoolTasks, say, THREAD_ID } from "./fixtures/pool_tasks.ts";

const SILENT = createLogger("silent");
const POOL_APP = new URL("./fixtures/pool_app.ts", import.meta.url);
const BROKEN_APP = new URL("./fixtures/pool_broken.ts", import.meta.url);

/** Wraps the runtime's thread factory and counts the threads it started and those still alive. */
class CountingFactory implements ThreadFactory {
  readonly name: "web" | "node";
  spawned = 0;
  live = 0;
  #real: ThreadFactory = getThreadFactory();

  constructor() {
    this.name = this.#real.name;
  }

  #waiters: Array<() => void> = [];

  /** Resolves once `count` threads were started (a crashed one is replaced after a backoff). */
  untilSpawned(count: number): Promise<void> {
    if (this.spawned >= count) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.spawned < count) return;
        this.#waiters = this.#waiters.filter((waiter) => waiter !== check);
        resolve();
      };
      this.#waiters.push(check);
    });
  }

  spawn(url: URL, listener: Parameters<ThreadFactory["spawn"]>[1]) {
    this.spawned++;
    this.live++;
    for (const waiter of [...this.#waiters]) waiter();
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      this.live--;
    };
    const handle = this.#real.spawn(url, {
      message: listener.message,
      error: listener.error,
      exit: () => {
        end();
        listener.exit();
      },
    });
    return {
      post: (message: unknown) => handle.post(message),
      terminate: async () => {
        await handle.terminate();
        end();
      },
    };
  }

  port() {
    return this.#real.port();
  }
}

/** A thread the test plays by hand: what the pool sent it, and the pool's listener. */
interface FakeThread {
  listener: ThreadListener;
  posted: Array<{ type: string; id?: number; ok?: boolean; error?: { info: { message: string } } }>;
  terminated: boolean;
  /** Called with each message the pool posts. */
  onPost?: (message: FakeThread["posted"][0]) => void;
}

/** A ThreadPool of the pool fixture on scripted threads, silent; `options` add to or replace those. */
function fakePool(threads: FakeFactory, options: Partial<ThreadPoolOptions> = {}): ThreadPool {
  return new ThreadPool({
    module: POOL_APP,
    size: 1,
    threadFactory: threads,
    logger: SILENT,
    ...options,
  });
}

/**
 * Starts no real thread: each spawn is a {@linkcode FakeThread} the test answers for (`ready`,
 * `load-error`, `done`), so the pool's own logic is tested without timing. `refuse` makes the
 * next spawns throw.
 */
class FakeFactory implements ThreadFactory {
  readonly name = "web" as const;
  threads: FakeThread[] = [];
  refuse = 0;
  onSpawn: ((thread: FakeThread) => void) | undefined;

  spawn(_url: URL, listener: ThreadListener) {
    if (this.refuse > 0) {
      this.refuse--;
      throw new Error("no more threads");
    }
    const thread: FakeThread = { listener, posted: [], terminated: false };
    this.threads.push(thread);
    this.onSpawn?.(thread);
    return {
      post: (message: unknown) => {
        // Cloned as a real thread's postMessage does (a DataCloneError included).
        const cloned = structuredClone(message) as FakeThread["posted"][0];
        thread.posted.push(cloned);
        thread.onPost?.(cloned);
        // A loaded thread asked to close stops its plugins and says so.
        if ((message as { type: string }).type === "close") {
          queueMicrotask(() => listener.message({ type: "closed" }));
        }
      },
      terminate: () => {
        thread.terminated = true;
        return Promise.resolve();
      },
    };
  }

  port() {
    return undefined;
  }

  /** Resolves with the next thread spawned. */
  next(): Promise<FakeThread> {
    return new Promise((resolve) => {
      this.onSpawn = (thread) => {
        this.onSpawn = undefined;
        resolve(thread);
      };
    });
  }
}

function loaded(thread: FakeThread): void {
  thread.listener.message({ type: "ready" });
}

function loadFails(thread: FakeThread, message: string): void {
  thread.listener.message({
    type: "load-error",
    error: { info: { type: "Error", message }, chain: ["Error"] },
  });
}

/** Reports the thread's task `id` done with `returning`. */
function finish(thread: FakeThread, id: number, returning = "1"): void {
  thread.listener.message({ type: "done", id, outcome: { status: "success", returning } });
}

/** The thread reports an uncaught exception. */
function crash(thread: FakeThread): void {
  thread.listener.message({
    type: "crash",
    error: { info: { type: "Error", message: "the thread blew up" }, chain: ["Error"] },
  });
}

/** The ids of the tasks the pool sent the thread. */
function sent(thread: FakeThread): number[] {
  return thread.posted.filter((message) => message.type === "run").map((message) => message.id!);
}

/** A run of a task `name` for ThreadPool.execute, outside any worker. */
function fakeRun(name: string, signal: AbortSignal = new AbortController().signal): TaskRun {
  return {
    definition: { name } as TaskRun["definition"],
    uuid: crypto.randomUUID(),
    priority: 0,
    args: [],
    deliveries: 1,
    signal,
    appName: "pool-test",
    workerId: "w1",
    middlewaresBefore: [],
    middlewaresAfter: [],
  };
}

/** The outcome is an error thrown as `name`; returns its message. */
function failedWith(outcome: TaskOutcome, name: string): string {
  assert.equal(outcome.status, "error");
  const thrown = (outcome as { thrown?: Error }).thrown;
  assert.equal(thrown?.name, name);
  return thrown.message;
}

type MakeBroker = (name: string) => Broker;

const backends: Array<[string, MakeBroker]> = [
  ["memory", (name) => new MemoryBroker({ name })],
  ["redis", (name) => new RedisBroker({ name, url: testRedisUrl() })],
];

interface PoolSetup {
  app: QueueTasks;
  worker: WorkerPool;
  threads: CountingFactory;
}

/** Runs `body` with a started app on a WorkerPool of 2 threads; always flushes and stops it. */
async function withPool(
  makeBroker: MakeBroker,
  body: (setup: PoolSetup) => Promise<void>,
  options: { size?: number; concurrencyPerThread?: number } = {},
): Promise<void> {
  const name = uniqueName("worker-pool");
  const broker = makeBroker(name);
  const threads = new CountingFactory();
  const worker = new WorkerPool({
    broker,
    module: POOL_APP,
    size: options.size ?? 2,
    concurrencyPerThread: options.concurrencyPerThread,
    terminateAfterMs: 200,
    threadFactory: threads,
  });
  const app = new QueueTasks({ name, broker, worker, logger: SILENT, env: false });
  registerPoolTasks(app);
  await app.start();
  try {
    await body({ app, worker, threads });
  } finally {
    try {
      await app.flushAll();
    } finally {
      await app.stop({ graceMs: 1_000 });
    }
  }
  assert.equal(worker.pool.threads, 0, "the pool has no thread after stop");
  assert.equal(threads.live, 0, "no thread is alive after stop");
}

function poolTests(backend: string, makeBroker: MakeBroker): void {
  test(`${backend}: a task runs on a pool thread, through the thread app's middlewares and plugins`, async () => {
    await withPool(makeBroker, async ({ app, worker, threads }) => {
      assert.equal(worker.pool.threads, 2);
      assert.equal(worker.concurrency, 2);
      assert.equal(threads.spawned, 2);
      const sum = await (await app.addTask("add", [1, 2])).value() as Record<string, unknown>;
      assert.equal(sum.sum, 3);
      assert.equal(sum.middleware, "thread");
      assert.notEqual(sum.thread, THREAD_ID, "it ran on another thread");
      const closed = hear<{ uuid: string; status: string }>("close", () => true);
      const job = await app.addTask("where", []);
      assert.deepEqual(await job.value(), {
        thread: (await job.value() as { thread: string }).thread,
        poolThread: true,
        plugin: "thread",
      });
      assert.deepEqual(await closed, { uuid: job.uuid, status: "success" });
      assert.deepEqual(await (await app.addTask("generate", [4])).value(), [0, 1, 4, 9]);
    });
  });

  test(`${backend}: two tasks run at the same time, each on its own thread`, async () => {
    await withPool(makeBroker, async ({ app }) => {
      const tag = crypto.randomUUID();
      // Each waits until it hears the other: on one thread, one after the other, neither ends.
      const [a, b] = await Promise.all([
        app.addTask("rendezvous", [tag, "a", "b"]),
        app.addTask("rendezvous", [tag, "b", "a"]),
      ]);
      const [threadA, threadB] = await Promise.all([a.value(), b.value()]);
      assert.notEqual(threadA, threadB);
    });
  });

  test(`${backend}: an error thrown in a thread is rebuilt as its class, so retryOn and UnrecoverableError work`, async () => {
    await withPool(makeBroker, async ({ app }) => {
      // retryOn [FlakyError] matches the subclass FlakierError: 1 run + 2 retries.
      const flaky = await app.addTask("flaky", [1]);
      const final = await flaky.result(); // follows the retry chain to its last attempt
      const types: string[] = [];
      for (let uuid: string | undefined = flaky.uuid; uuid !== undefined;) {
        const record: TaskRecord | undefined = uuid === final.uuid ? final : await app.get(uuid);
        types.push(`${record?.status}:${record?.error?.type}`);
        uuid = record?.retryChildUuid;
      }
      assert.deepEqual(types, ["retry:FlakierError", "retry:FlakierError", "error:FlakierError"]);
      // UnrecoverableError: never retried.
      const fatal = await (await app.addTask("fatal", [])).result();
      assert.equal(fatal.status, "error");
      assert.equal(fatal.error?.type, "UnrecoverableError");
      assert.equal(fatal.error?.code, "UNRECOVERABLE");
      assert.equal(fatal.retryChildUuid, undefined);
      // A RangeError is not among retryOn [TypeError].
      const typed = await (await app.addTask("typed", [])).result();
      assert.equal(typed.status, "error");
      assert.equal(typed.error?.type, "RangeError");
      assert.equal(typed.retryChildUuid, undefined);
    });
  });

  test(`${backend}: a thread that crashes ends its task as ThreadCrashError and is replaced`, async () => {
    await withPool(makeBroker, async ({ app, worker, threads }) => {
      const tag = crypto.randomUUID();
      const started = hear(tag, () => true);
      const job = await app.addTask("crash", [tag]);
      await started;
      const record = await job.result();
      assert.equal(record.status, "error");
      assert.equal(record.error?.type, "ThreadCrashError");
      assert.equal(record.error?.code, "THREAD_CRASHED");
      assert.match(record.error?.message ?? "", /the thread blew up/);
      // A thread that crashes before it finished a task is replaced after a short backoff.
      await threads.untilSpawned(3);
      assert.equal(threads.spawned, 3, "one thread replaced");
      assert.equal(worker.pool.threads, 2);
      // The pool still runs tasks, on both threads.
      const tag2 = crypto.randomUUID();
      const [a, b] = await Promise.all([
        app.addTask("rendezvous", [tag2, "a", "b"]),
        app.addTask("rendezvous", [tag2, "b", "a"]),
      ]);
      assert.notEqual(await a.value(), await b.value());
      assert.equal(threads.live, 2);
    });
  });

  test(`${backend}: a thread that ends itself ends its task as ThreadCrashError and is replaced`, async () => {
    await withPool(makeBroker, async ({ app, worker, threads }) => {
      const record = await (await app.addTask("quit", [])).result();
      assert.equal(record.status, "error");
      assert.equal(record.error?.code, "THREAD_CRASHED");
      await threads.untilSpawned(3);
      assert.equal(worker.pool.threads, 2);
      assert.equal(threads.spawned, 3);
      assert.equal((await (await app.addTask("add", [2, 2])).value() as { sum: number }).sum, 4);
    });
  });

  test(`${backend}: a CPU-bound task over its maxTime ends as TaskTimeoutError and its thread is replaced`, async () => {
    await withPool(makeBroker, async ({ app, worker, threads }) => {
      const tag = crypto.randomUUID();
      const started = hear(tag, () => true);
      const job = await app.addTask("spin", [tag]);
      await started;
      const record = await job.result();
      assert.equal(record.status, "error");
      assert.equal(record.error?.type, "TaskTimeoutError");
      assert.equal(record.error?.code, "TASK_TIMEOUT");
      // The spinning thread is terminated terminateAfterMs (200 ms) later and replaced.
      const sum = await (await app.addTask("add", [1, 1])).value() as { sum: number };
      assert.equal(sum.sum, 2);
      const [a, b] = await Promise.all([
        app.addTask("rendezvous", [tag, "a", "b"]),
        app.addTask("rendezvous", [tag, "b", "a"]),
      ]);
      assert.notEqual(await a.value(), await b.value(), "two threads again");
      assert.equal(threads.spawned, 3);
      assert.equal(worker.pool.threads, 2);
      assert.equal(threads.live, 2);
    });
  });

  test(`${backend}: a running task cancelled in a thread ends as cancel`, async () => {
    await withPool(makeBroker, async ({ app }) => {
      const tag = crypto.randomUUID();
      const started = hear(tag, () => true);
      const job = await app.addTask("gate", [tag]);
      await started;
      await app.cancel(job.uuid, "changed my mind");
      const record = await job.result();
      assert.equal(record.status, "cancel");
      assert.equal(record.cancelReason, "changed my mind");
    });
  });

  test(`${backend}: progress reported from a thread is readable by the producer`, async () => {
    await withPool(makeBroker, async ({ app }) => {
      const job = await app.addTask("report", [3]);
      assert.deepEqual(await job.value(), { status: "process", deliveries: 1 });
      assert.deepEqual(await job.progress(), { done: 3, steps: 3 });
    });
  });

  test(`${backend}: log lines written from a thread are readable through app.ops.logs`, async () => {
    await withPool(makeBroker, async ({ app }) => {
      const job = await app.addTask("logged", [2]);
      assert.equal(await job.value(), 2);
      const logs = await app.ops.logs(job.uuid);
      assert.deepEqual(logs?.map((l) => [l.level, l.message]), [["info", "line 1"], [
        "warn",
        "line 2",
      ]]);
    });
  });

  test(`${backend}: stop waits for the running tasks on threads, then ends the threads`, async () => {
    const name = uniqueName("worker-pool");
    const broker = makeBroker(name);
    const threads = new CountingFactory();
    const worker = new WorkerPool({ broker, module: POOL_APP, size: 1, threadFactory: threads });
    const app = new QueueTasks({ name, broker, worker, logger: SILENT, env: false });
    registerPoolTasks(app);
    await app.start();
    const tag = crypto.randomUUID();
    const started = hear(tag, () => true);
    const job = await app.addTask("gate", [tag]);
    await started;
    const stopped = app.stop({ graceMs: 10_000 });
    say(tag, "go");
    await stopped;
    assert.equal(worker.pool.threads, 0);
    assert.equal(threads.live, 0);
    const record = await app.get(job.uuid);
    assert.equal(record?.status, "success");
    assert.equal(record?.returning, "passed");
    await app.start();
    await app.flushAll();
    await app.stop();
  });

  test(`${backend}: stop terminates a thread still busy after the grace period and gives its task back`, async () => {
    const name = uniqueName("worker-pool");
    const broker = makeBroker(name);
    const threads = new CountingFactory();
    const worker = new WorkerPool({
      broker,
      module: POOL_APP,
      size: 1,
      terminateAfterMs: 100,
      threadFactory: threads,
    });
    const app = new QueueTasks({ name, broker, worker, logger: SILENT, env: false });
    registerPoolTasks(app);
    await app.start();
    try {
      const running = new Promise<void>((resolve) => app.events.on("taskRunning", () => resolve()));
      const job = await app.addTask("burn", [60_000]);
      await running;
      await app.stop({ graceMs: 100 });
      assert.equal(worker.pool.threads, 0);
      assert.equal(threads.live, 0);
      assert.equal((await app.get(job.uuid))?.status, "new", "given back to the queue");
    } finally {
      await app.start();
      await app.flushAll();
      await app.stop({ graceMs: 100 });
    }
  });
}

for (const [backend, makeBroker] of backends) poolTests(backend, makeBroker);

test("a task module that throws at load makes the pool's start fail and leaves no thread", async () => {
  const name = uniqueName("worker-pool");
  const broker = new MemoryBroker({ name });
  const threads = new CountingFactory();
  const worker = new WorkerPool({ broker, module: BROKEN_APP, size: 2, threadFactory: threads });
  const app = new QueueTasks({ name, broker, worker, logger: SILENT, env: false });
  await assert.rejects(app.start(), (error: Error & { code?: string }) => {
    assert.equal(error.name, "ThreadCrashError");
    assert.equal(error.code, "THREAD_CRASHED");
    assert.match(
      error.message,
      /could not load the task module .*pool_broken\.ts: the module is broken/,
    );
    return true;
  });
  assert.equal(worker.pool.threads, 0);
  assert.equal(threads.live, 0);
  await app.stop();
});

test("a ThreadPool runs one task as its executor while the others run on the event loop", async () => {
  const threads = new CountingFactory();
  const pool = new ThreadPool({ module: POOL_APP, size: 1, threadFactory: threads });
  const app = new QueueTasks({ name: uniqueName("thread-pool"), logger: SILENT, env: false });
  app.task(
    { name: "add", executor: pool },
    (a: number, b: number) => ({ sum: a + b, thread: THREAD_ID }),
  );
  app.task("local", () => THREAD_ID);
  await app.start();
  try {
    assert.equal(pool.threads, 0, "started on first use");
    const remote = await (await app.addTask("add", [2, 3])).value() as Record<string, unknown>;
    assert.equal(remote.sum, 5);
    assert.notEqual(remote.thread, THREAD_ID);
    assert.equal(remote.middleware, "thread");
    assert.equal(await (await app.addTask("local", [])).value(), THREAD_ID);
    assert.equal(pool.threads, 1);
  } finally {
    await app.stop();
    await pool.close();
  }
  assert.equal(pool.threads, 0);
  assert.equal(threads.live, 0);
});

test("close does not wait for a start whose threads never finish loading: the start fails", async () => {
  const threads = new FakeFactory();
  const pool = fakePool(threads, { size: 2 });
  const started = pool.start();
  const queued = pool.execute(fakeRun("add"));
  loaded(threads.threads[0]); // the other one never answers (a top-level await that never ends)
  await pool.close();
  await assert.rejects(started, { name: "ThreadCrashError" });
  assert.match(failedWith(await queued, "ThreadCrashError"), /closed while the thread loaded/);
  assert.equal(pool.threads, 0);
  assert.ok(threads.threads.every((thread) => thread.terminated));
});

test("a thread that takes longer than loadTimeoutMs to load counts as a failed load", async () => {
  const threads = new FakeFactory();
  const pool = fakePool(threads, { loadTimeoutMs: 20 });
  await assert.rejects(pool.start(), (error: Error) => {
    assert.equal(error.name, "ThreadCrashError");
    assert.match(error.message, /did not load the task module within 20 ms \(loadTimeoutMs\)/);
    return true;
  });
  assert.equal(pool.threads, 0);
  assert.ok(threads.threads[0].terminated);
  assert.throws(
    () => new ThreadPool({ module: POOL_APP, loadTimeoutMs: 0 }),
    /loadTimeoutMs must be a positive number, got 0/,
  );
});

test("a thread factory that throws while replacing a thread is retried with backoff, and queued tasks fail while no thread can be made", async () => {
  const threads = new FakeFactory();
  const pool = fakePool(threads);
  const started = pool.start();
  loaded(threads.threads[0]);
  await started;
  const first = pool.execute(fakeRun("add"));
  finish(threads.threads[0], sent(threads.threads[0])[0]);
  assert.equal((await first).status, "success");
  threads.refuse = 2; // the replacement and its first retry fail
  crash(threads.threads[0]);
  assert.equal(pool.threads, 0);
  const queued = pool.execute(fakeRun("add"));
  // The retry (after the backoff) fails too, with no thread loaded: the queued task fails.
  assert.match(failedWith(await queued, "ThreadCrashError"), /could be started.*no more threads/);
  const replacement = await threads.next(); // the second retry works
  loaded(replacement);
  assert.equal(pool.threads, 1);
  const next = pool.execute(fakeRun("add"));
  finish(replacement, sent(replacement)[0], "2");
  assert.deepEqual(await next, { status: "success", returning: "2" });
  await pool.close({ graceMs: 0 });
  assert.equal(pool.threads, 0);
});

test("a thread that crashes right after loading is replaced with backoff, and at once after it finished a task", async () => {
  const threads = new FakeFactory();
  const pool = fakePool(threads);
  const started = pool.start();
  let thread = threads.threads[0];
  loaded(thread);
  await started;
  const delays: number[] = [];
  for (let i = 0; i < 3; i++) {
    crash(thread); // right after loading, as a module whose timer throws would
    assert.equal(pool.threads, 0, "not replaced at once");
    const since = Date.now();
    thread = await threads.next();
    delays.push(Date.now() - since);
    loaded(thread);
  }
  // 100, 200, 400 ms (timers may fire a little early or late).
  assert.ok(delays[0] >= 80, `first delay ${delays[0]} ms`);
  assert.ok(delays[2] >= 300, `delays grow: ${delays.join(", ")} ms`);
  // A thread that finished a task was healthy: its crash is the task's, replaced at once.
  const job = pool.execute(fakeRun("add"));
  finish(thread, sent(thread)[0]);
  assert.equal((await job).status, "success");
  crash(thread);
  assert.equal(pool.threads, 1, "replaced at once");
  assert.equal(threads.threads.length, 5);
  await pool.close({ graceMs: 0 });
});

test("a task that exits its thread (Deno.exit, process.exit) ends as ThreadCrashError and the pool runs the next task", async () => {
  await withPool(backends[0][1], async ({ app, worker, threads }) => {
    for (const name of ["exit", "process-exit"]) {
      const record = await (await app.addTask(name, [])).result();
      assert.equal(record.status, "error", name);
      assert.equal(record.error?.type, "ThreadCrashError", name);
      assert.equal(record.error?.code, "THREAD_CRASHED", name);
      assert.equal(
        (await (await app.addTask("add", [2, 3])).value() as { sum: number }).sum,
        5,
        `the pool runs a task after ${name}`,
      );
    }
    await threads.untilSpawned(4);
    assert.equal(threads.spawned, 4, "each exited thread replaced");
    assert.equal(worker.pool.threads, 2);
  });
});

test("ThreadPool and WorkerPool refuse bad options with clear errors", () => {
  assert.throws(
    () => new ThreadPool({ module: POOL_APP, size: 0 }),
    new RangeError("Cannot create ThreadPool: size must be a positive integer, got 0"),
  );
  assert.throws(
    () => new ThreadPool({ module: POOL_APP, concurrencyPerThread: 1.5 }),
    /concurrencyPerThread must be a positive integer, got 1.5/,
  );
  assert.throws(() => new ThreadPool({ module: "./tasks.ts" }), TypeError);
  const broker = new MemoryBroker();
  assert.throws(
    () => new WorkerPool({ broker, module: POOL_APP, executor: pool() } as never),
    /it has no executor option/,
  );
  const worker = new WorkerPool({ broker, module: POOL_APP, size: 3, concurrencyPerThread: 2 });
  assert.equal(worker.concurrency, 6);
  assert.equal(worker.pool.size, 3);

  function pool(): ThreadPool {
    return new ThreadPool({ module: POOL_APP });
  }
});

test("a pool that fails to start ends the tasks waiting for it and sends none to a loaded thread meanwhile", async () => {
  const threads = new FakeFactory();
  const pool = fakePool(threads, { size: 2 });
  const first = pool.execute(fakeRun("add"));
  const [a, b] = threads.threads;
  loaded(a);
  const second = pool.execute(fakeRun("add"));
  assert.deepEqual(sent(a), [], "no task is sent while the pool starts");
  loadFails(b, "the module is broken");
  for (const outcome of await Promise.all([first, second])) {
    assert.match(failedWith(outcome, "ThreadCrashError"), /the module is broken/);
  }
  assert.equal(pool.threads, 0);
  assert.equal(pool.queued, 0);
  assert.ok(a.terminated && b.terminated);
});

test("a task queued while an explicit start fails ends with the start's error", async () => {
  const threads = new FakeFactory();
  const pool = fakePool(threads);
  const started = pool.start();
  const queued = pool.execute(fakeRun("add"));
  loadFails(threads.threads[0], "the module is broken");
  await assert.rejects(started, { name: "ThreadCrashError" });
  assert.match(failedWith(await queued, "ThreadCrashError"), /could not load the task module/);
  assert.equal(pool.queued, 0);
});

test("an error crossing threads is rebuilt as a QTasks class only when it was one, and an AggregateError keeps its errors", () => {
  const crossed = (thrown: unknown, extra: Array<new (message: string) => Error> = []) =>
    rebuildThreadError(structuredClone(encodeThreadError(thrown)), extra) as Error;
  // A library's own classes that share a name with QTasks' ones.
  class OwnUnrecoverable extends Error {}
  Object.defineProperty(OwnUnrecoverable, "name", { value: "UnrecoverableError" });
  class OwnValidation extends Error {}
  Object.defineProperty(OwnValidation, "name", { value: "ValidationError" });
  const own = crossed(new OwnUnrecoverable("mine"));
  assert.ok(!(own instanceof UnrecoverableError), "not QTasks' UnrecoverableError");
  assert.ok(own instanceof Error);
  assert.equal(own.message, "mine");
  assert.ok(!(crossed(new OwnValidation("mine")) instanceof ValidationError));
  assert.ok(crossed(new OwnValidation("mine"), [OwnValidation]) instanceof OwnValidation);
  // QTasks' own still are.
  assert.ok(crossed(new UnrecoverableError("no retry")) instanceof UnrecoverableError);
  const aggregate = crossed(new AggregateError([new RangeError("a"), "b"], "both"));
  assert.ok(aggregate instanceof AggregateError);
  const errors = (aggregate as AggregateError).errors;
  assert.equal(errors.length, 2);
  assert.ok(errors[0] instanceof RangeError);
  assert.equal(errors[0].message, "a");
  assert.equal(errors[1], "b");
  // The abort reasons the worker sends to a thread keep their class, code and fields.
  const lost = crossed(new LeaseLostError("u-1"));
  assert.ok(lost instanceof LeaseLostError);
  assert.equal((lost as LeaseLostError).code, "LEASE_LOST");
  assert.equal((lost as LeaseLostError).uuid, "u-1");
  const shutdown = crossed(new WorkerShutdownError());
  assert.ok(shutdown instanceof WorkerShutdownError);
  assert.equal((shutdown as WorkerShutdownError).code, "WORKER_SHUTDOWN");
  const limit = crossed(new DeliveryLimitError(3));
  assert.ok(limit instanceof DeliveryLimitError);
  assert.equal((limit as DeliveryLimitError).deliveries, 3);
});

test("a closing ThreadPool ends the tasks it has not started with WorkerShutdownError", async () => {
  const threads = new FakeFactory();
  const pool = fakePool(threads, { concurrencyPerThread: 1 });
  const started = pool.start();
  loaded(threads.threads[0]);
  await started;
  const running = pool.execute(fakeRun("add"));
  const queued = pool.execute(fakeRun("add"));
  assert.equal(sent(threads.threads[0]).length, 1, "one slot: the second task waits");
  const closing = pool.close({ graceMs: 0 });
  const outcome = await queued;
  assert.match(failedWith(outcome, "WorkerShutdownError"), /closed before the task started/);
  const thrown = (outcome as { thrown?: unknown }).thrown;
  assert.ok(thrown instanceof WorkerShutdownError);
  assert.equal(thrown.code, "WORKER_SHUTDOWN");
  const late = await pool.execute(fakeRun("add"));
  assert.match(failedWith(late, "WorkerShutdownError"), /the thread pool is closing/);
  await closing;
  assert.equal((await running).status, "error");
});

test("a broker answer that cannot be sent to the thread fails the thread's call instead of leaving it pending", async () => {
  const threads = new FakeFactory();
  const pool = fakePool(threads);
  const started = pool.start();
  const thread = threads.threads[0];
  loaded(thread);
  await started;
  const run = fakeRun("report");
  // A record that cannot be cloned (a function in it).
  const record = { uuid: run.uuid, status: "process", toJSON: () => "x" };
  run.services = {
    broker: { get: () => Promise.resolve(record) },
  } as unknown as TaskRun["services"];
  const job = pool.execute(run);
  const [id] = sent(thread);
  const reply = new Promise<FakeThread["posted"][0]>((resolve) => {
    thread.onPost = (message) => {
      if (message.type === "reply") resolve(message);
    };
  });
  thread.listener.message({ type: "call", call: 1, id, op: "get", uuid: run.uuid });
  const answer = await reply;
  assert.equal(answer.ok, false);
  assert.match(answer.error?.info.message ?? "", /cannot be sent to the thread/);
  finish(thread, id);
  assert.equal((await job).status, "success");
  await pool.close({ graceMs: 0 });
});

import { TaskCancelError } from "../../model/errors/task_cancel_error.ts";
import { TaskTimeoutError } from "../../model/errors/task_timeout_error.ts";
import { ThreadCrashError } from "../../model/errors/thread_crash_error.ts";
import { WorkerShutdownError } from "../../model/errors/worker_shutdown_error.ts";
import type { TaskExecutor, TaskOutcome, TaskRun } from "../../ports/task_executor.ts";
import { createLogger, type Logger } from "../../model/logger.ts";
import {
  getThreadFactory,
  type ThreadFactory,
  type ThreadHandle,
} from "../../ports/thread_factory.ts";
import { describeError } from "../../model/task_codec.ts";
import type { FromThread, ThreadOutcome, ToThread } from "./_pool_protocol.ts";
import { isPoolThread } from "./pool_thread_flag.ts";
import { encodeThreadError, rebuildThreadError } from "./_thread_error.ts";

/**
 * Options of {@linkcode ThreadPool}.
 *
 * @example
 * ```ts
 * import type { ThreadPoolOptions } from "@qtasks/qtasks";
 *
 * const options: ThreadPoolOptions = {
 *   module: new URL("./tasks.ts", import.meta.url),
 *   size: 4,
 *   concurrencyPerThread: 1,
 * };
 * ```
 */
export interface ThreadPoolOptions {
  /**
   * The module that registers the tasks and exports the app: its URL, usually `import.meta.url`
   * of the file that creates the app, or `new URL("./tasks.ts", import.meta.url)`. Each thread
   * imports it; there `app.start()` and `app.runForever()` do nothing (see
   * {@linkcode isPoolThread}).
   */
  module: string | URL;
  /**
   * The export that holds the app (default: the default export, else the one export that is a
   * QueueTasks app).
   */
  exportName?: string;
  /** Threads (default: the number of cores, `navigator.hardwareConcurrency`). */
  size?: number;
  /** Tasks one thread runs at once (default 1: CPU-bound tasks; more for tasks that also await). */
  concurrencyPerThread?: number;
  /**
   * How long a thread may take to stop a task once it is abandoned (its `maxTime` passed, it was
   * cancelled, the worker gave it up on shutdown), and to close, before it is terminated and
   * replaced (default 1,000 ms).
   */
  terminateAfterMs?: number;
  /**
   * How long a thread may take to load the task module (its imports, top-level awaits, the
   * `app` and `worker` plugins' start) before it counts as a failed load: terminated, and the
   * start fails or the thread is replaced with backoff (default 30,000 ms; `Infinity` waits
   * for ever).
   */
  loadTimeoutMs?: number;
  /** How threads are started (default: {@linkcode getThreadFactory}; replace it in tests). */
  threadFactory?: ThreadFactory;
  /** Where to log crashes (default: the logger of the first task's run, else the console). */
  logger?: Logger;
}

/** One task handed to the pool. */
interface Job {
  id: number;
  run: TaskRun;
  resolve: (outcome: TaskOutcome) => void;
  settled: boolean;
  thread: PoolThread | undefined;
  /** maxTime, counted from the moment the task is sent to its thread. */
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Abandoned: the thread must report the task done before this fires. */
  killTimer: ReturnType<typeof setTimeout> | undefined;
  onAbort: (() => void) | undefined;
}

/** One thread of the pool. */
interface PoolThread {
  handle: ThreadHandle;
  state: "loading" | "ready" | "dead";
  running: Map<number, Job>;
  /** Resolves when loaded; rejects when it died before. */
  loaded: Promise<void>;
  settleLoad(error?: unknown): void;
  /** Called when it answers `closed`. */
  onClosed: (() => void) | undefined;
  /** Fails the load when it takes longer than `loadTimeoutMs`. */
  loadTimer: ReturnType<typeof setTimeout> | undefined;
  /** When it loaded (`Date.now()`), 0 before. */
  readyAt: number;
  /** Whether it finished a task: then a crash is the task's, not the module's. */
  finished: boolean;
}

const DEFAULT_TERMINATE_AFTER_MS = 1_000;
const DEFAULT_LOAD_TIMEOUT_MS = 30_000;
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 10_000;
/** A thread up this long (or that finished a task) was healthy: its crash resets the backoff. */
const STABLE_MS = 1_000;

/** `.ts` here, `.js` in the npm build: the entry has the extension this file has. */
const ENTRY_URL: URL = new URL(
  `./pool_thread${/\.[cm]?[jt]s$/.exec(new URL(import.meta.url).pathname)?.[0] ?? ".ts"}`,
  import.meta.url,
);

function positiveInteger(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot create ThreadPool: ${name} must be a positive integer, got ${String(value)}`,
    );
  }
  return value;
}

function moduleUrl(module: unknown): string {
  if (module instanceof URL) return module.href;
  if (typeof module === "string") {
    try {
      return new URL(module).href;
    } catch {
      // Falls through to the error.
    }
  }
  throw new TypeError(
    `Cannot create ThreadPool: module must be the URL of the task module (import.meta.url, or new URL("./tasks.ts", import.meta.url)), got ${
      String(module)
    }`,
  );
}

function abortOutcome(reason: unknown): TaskOutcome {
  if (reason instanceof TaskCancelError) return { status: "cancel", reason: reason.reason };
  return { status: "error", error: describeError(reason), thrown: reason };
}

function failure(thrown: Error): TaskOutcome {
  return { status: "error", error: describeError(thrown), thrown };
}

/**
 * A {@linkcode TaskExecutor} that runs tasks on a pool of threads, so CPU-bound tasks run in
 * parallel on every core and never block the event loop that talks to the broker. Each thread
 * imports the task module (`module`), finds its app, and runs the tasks it is sent by name,
 * through that app's registry with the usual pipeline: the app's middlewares, the
 * `task_executor_*` triggers of its `app` and `worker` plugins, generators, dependencies
 * (`inject`, opened in the thread). The worker's side (claims, leases, retries, `worker_*`
 * triggers, events, results) stays on the main thread.
 *
 * Arguments cross to the thread by structured clone (after the main thread decoded and
 * validated them); the result is encoded as JSON in the thread. A thrown error crosses as data
 * and is rebuilt as an instance of the most derived class on its prototype chain known to the
 * main thread (QTasks' errors, the built-in ones, the task's `retryOn` classes), so `retryOn`
 * and `UnrecoverableError` work as on one thread. A task context's `metadata`, `getTask` and
 * `progress` ask the main thread's broker by message.
 *
 * A cancel, a shutdown or `maxTime` (counted on the main thread from the moment the task is
 * sent) ends the task at once (`cancel`, or `error` with the signal's reason or a
 * {@linkcode TaskTimeoutError}) and aborts its signal in the thread; a thread that has not
 * finished the task `terminateAfterMs` later (a CPU-bound loop ignores signals) is terminated
 * and replaced, and the other tasks it ran end with a {@linkcode ThreadCrashError}. So does a
 * thread that crashes (an uncaught exception, an exit). Failures are retried by the task's
 * retry policy. The pool keeps `size` threads: a thread whose module fails to load is replaced
 * with backoff, and queued tasks fail with that error while no thread is loaded.
 *
 * Use it for one task (`app.task("hash", fn, { executor: pool })`; it starts on first use, and
 * `pool.close()` stops its threads), or as a whole worker with {@linkcode WorkerPool}.
 *
 * @example One CPU-bound task on a pool, the others on the event loop
 * ```ts ignore
 * // tasks.ts
 * import { QueueTasks, ThreadPool } from "@qtasks/qtasks";
 *
 * export const app = new QueueTasks({ name: "shop", brokerUrl: "redis://127.0.0.1:6379" });
 * const pool = new ThreadPool({ module: import.meta.url, size: 2 });
 * app.task("thumbnail", (width: number) => width * 2, { executor: pool });
 * app.task("email", (to: string) => `sent to ${to}`);
 * await app.runForever({ exit: false }); // does nothing in the pool's threads
 * await pool.close();
 * ```
 *
 * @example Its size (threads start on first use, or with `start()`)
 * ```ts
 * import { ThreadPool } from "@qtasks/qtasks";
 *
 * const pool = new ThreadPool({ module: import.meta.url, size: 2, concurrencyPerThread: 4 });
 * console.log(pool.concurrency, pool.threads); // 8 0
 * ```
 */
export class ThreadPool implements TaskExecutor {
  /** The pool opens a task's dependencies in the thread: the worker hands it tasks as they are. */
  readonly opensDependencies: boolean = true;
  /** How many threads it keeps. */
  readonly size: number;
  /** Tasks one thread runs at once. */
  readonly concurrencyPerThread: number;
  /** The URL of the task module the threads import. */
  readonly module: string;
  #exportName: string | undefined;
  #terminateAfterMs: number;
  #loadTimeoutMs: number;
  #factoryOption: ThreadFactory | undefined;
  #logger: Logger | undefined;
  #threads = new Set<PoolThread>();
  /** Waiting for a thread, oldest first from #head (abandoned ones are skipped when reached). */
  #queue: Array<Job | undefined> = [];
  #head = 0;
  #waiting = 0;
  #state: "idle" | "starting" | "running" | "closing" = "idle";
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #nextId = 0;
  #restartDelay = 0;
  #restartTimers = new Set<ReturnType<typeof setTimeout>>();
  #idleWaiters: Array<() => void> = [];
  #terminating = new Set<Promise<void>>();

  /**
   * Creates a ThreadPool.
   *
   * @param options The task module, size, concurrency per thread, termination delay.
   */
  constructor(options: ThreadPoolOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Cannot create ThreadPool: options with a module URL are required");
    }
    this.module = moduleUrl(options.module);
    const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
      ?.hardwareConcurrency;
    this.size = positiveInteger(options.size, "size", Math.max(1, cores ?? 1));
    this.concurrencyPerThread = positiveInteger(
      options.concurrencyPerThread,
      "concurrencyPerThread",
      1,
    );
    if (
      options.terminateAfterMs !== undefined &&
      (typeof options.terminateAfterMs !== "number" || !(options.terminateAfterMs >= 0))
    ) {
      throw new RangeError(
        `Cannot create ThreadPool: terminateAfterMs must be a non-negative number, got ${
          String(options.terminateAfterMs)
        }`,
      );
    }
    if (
      options.loadTimeoutMs !== undefined &&
      (typeof options.loadTimeoutMs !== "number" || !(options.loadTimeoutMs > 0))
    ) {
      throw new RangeError(
        `Cannot create ThreadPool: loadTimeoutMs must be a positive number, got ${
          String(options.loadTimeoutMs)
        }`,
      );
    }
    if (options.exportName !== undefined && typeof options.exportName !== "string") {
      throw new TypeError("Cannot create ThreadPool: exportName must be a string");
    }
    this.#exportName = options.exportName;
    this.#terminateAfterMs = options.terminateAfterMs ?? DEFAULT_TERMINATE_AFTER_MS;
    this.#loadTimeoutMs = options.loadTimeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS;
    this.#factoryOption = options.threadFactory;
    this.#logger = options.logger;
  }

  /** Tasks it runs at once: `size` × `concurrencyPerThread`. */
  get concurrency(): number {
    return this.size * this.concurrencyPerThread;
  }

  /** Live threads: started (loading or loaded) and not yet ended. */
  get threads(): number {
    return this.#threads.size;
  }

  /** Tasks on threads now (including abandoned ones a thread has not given up yet). */
  get active(): number {
    let count = 0;
    for (const thread of this.#threads) count += thread.running.size;
    return count;
  }

  /** Tasks waiting for a free thread. */
  get queued(): number {
    return this.#waiting;
  }

  /** Whether its threads are started (or starting). */
  get running(): boolean {
    return this.#state === "running" || this.#state === "starting";
  }

  /**
   * Starts `size` threads and waits until each has loaded the task module. Called by
   * {@linkcode ThreadPool.execute} when needed.
   *
   * @throws {ThreadCrashError} When a thread cannot load the module (its error is the `cause`);
   *   no thread is left running.
   * @throws {Error} Inside a pool thread: a task module must not start pools.
   */
  start(): Promise<void> {
    if (isPoolThread()) {
      return Promise.reject(
        new Error(
          "Cannot start a ThreadPool inside a pool thread: the task module is imported there only for its tasks",
        ),
      );
    }
    if (this.#state === "running") return Promise.resolve();
    if (this.#state === "closing") {
      return (this.#closing ?? Promise.resolve()).then(() => this.start());
    }
    this.#starting ??= this.#start().finally(() => this.#starting = undefined);
    return this.#starting;
  }

  async #start(): Promise<void> {
    this.#state = "starting";
    const threads: PoolThread[] = [];
    for (let i = 0; i < this.size; i++) threads.push(this.#spawn());
    try {
      await Promise.all(threads.map((thread) => thread.loaded));
    } catch (error) {
      const failed = new ThreadCrashError(
        `Cannot start ThreadPool: a thread could not load the task module ${this.module}: ${
          describeError(error).message
        }`,
        { cause: error },
      );
      // Every thread of this start goes, with whatever it runs (tasks are only sent once the
      // pool runs, but a thread may hold one all the same), and the queued tasks fail with it.
      for (const thread of new Set([...threads, ...this.#threads])) {
        void this.#kill(thread);
        this.#loseRunning(thread, "the thread pool could not start", error);
      }
      this.#failQueued(failed);
      await Promise.all(this.#terminating);
      this.#state = "idle";
      this.#checkIdle();
      throw failed;
    }
    this.#state = "running";
    this.#restartDelay = 0;
    // A thread that loaded and then died while the others were loading is replaced now.
    for (let missing = this.size - this.#threads.size; missing > 0; missing--) this.#spawn();
    this.#dispatch();
  }

  /** Runs the task on a thread; never rejects. Starts the pool when it is not started. */
  execute(run: TaskRun): Promise<TaskOutcome> {
    this.#logger ??= run.services?.logger;
    if (this.#state === "closing") {
      return Promise.resolve(failure(
        new WorkerShutdownError(
          `Cannot run task "${run.definition.name}": the thread pool is closing`,
        ),
      ));
    }
    if (run.signal.aborted) return Promise.resolve(abortOutcome(run.signal.reason));
    return new Promise<TaskOutcome>((resolve) => {
      const job: Job = {
        id: ++this.#nextId,
        run,
        resolve,
        settled: false,
        thread: undefined,
        timer: undefined,
        killTimer: undefined,
        onAbort: undefined,
      };
      job.onAbort = () => this.#abandon(job, run.signal.reason, "it was aborted");
      run.signal.addEventListener("abort", job.onAbort, { once: true });
      this.#queue.push(job);
      this.#waiting++;
      if (this.#state === "idle") {
        this.start().catch((error) => this.#failQueued(error));
      } else if (this.#state === "running") this.#dispatch();
      // While starting, it waits: the start dispatches it, or fails it with the start.
    });
  }

  /**
   * Stops the pool: waits up to `graceMs` (default `terminateAfterMs`) for the tasks on its
   * threads, ends the ones still there with a {@linkcode ThreadCrashError} and the queued ones
   * with an error, lets each thread stop its plugins (briefly), then terminates every thread.
   * The pool can be started again.
   */
  close(options: { graceMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.graceMs ?? this.#terminateAfterMs).finally(() =>
      this.#closing = undefined
    );
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    if (this.#starting) {
      // A start may never finish (a module that awaits for ever): its loading threads fail now,
      // so the start fails too (and ends the tasks waiting for it).
      for (const thread of [...this.#threads]) {
        if (thread.state === "loading") {
          this.#crash(thread, "the thread pool was closed while the thread loaded the task module");
        }
      }
      await this.#starting.catch(() => {});
    }
    if (this.#state === "idle" && this.#threads.size === 0) return;
    this.#state = "closing";
    for (const timer of this.#restartTimers) clearTimeout(timer);
    this.#restartTimers.clear();
    this.#failQueued(new WorkerShutdownError("The thread pool closed before the task started"));
    await this.#idle(graceMs);
    const threads = [...this.#threads];
    for (const thread of threads) {
      this.#loseRunning(thread, "it was still running when the thread pool closed");
    }
    // Each loaded thread stops its plugins (closing dependencies), within the same delay.
    await Promise.all(threads.map((thread) => this.#closeThread(thread)));
    for (const thread of threads) void this.#kill(thread);
    // Also the threads put down meanwhile (crashed, or terminated for an abandoned task).
    await Promise.all(this.#terminating);
    this.#state = "idle";
  }

  #closeThread(thread: PoolThread): Promise<void> {
    if (thread.state !== "ready") return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#terminateAfterMs);
      thread.onClosed = () => {
        clearTimeout(timer);
        resolve();
      };
      thread.handle.post({ type: "close" } satisfies ToThread);
    });
  }

  #idle(timeoutMs: number): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#idleWaiters = this.#idleWaiters.filter((waiter) => waiter !== done);
        resolve();
      }, timeoutMs);
      this.#idleWaiters.push(done);
    });
  }

  #checkIdle(): void {
    if (this.active > 0 || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const done of waiters) done();
  }

  #spawn(): PoolThread {
    let settleLoad!: (error?: unknown) => void;
    const loaded = new Promise<void>((resolve, reject) => {
      settleLoad = (error) => error === undefined ? resolve() : reject(error);
    });
    // Rejections are handled by whoever awaits it; never reported as unhandled.
    loaded.catch(() => {});
    const thread: PoolThread = {
      handle: undefined as unknown as ThreadHandle,
      state: "loading",
      running: new Map(),
      loaded,
      settleLoad,
      onClosed: undefined,
      loadTimer: undefined,
      readyAt: 0,
      finished: false,
    };
    const factory = this.#factoryOption ?? getThreadFactory();
    this.#threads.add(thread);
    try {
      thread.handle = factory.spawn(ENTRY_URL, {
        message: (data) => this.#onMessage(thread, data as FromThread),
        error: (error) => this.#crash(thread, "its thread threw an uncaught exception", error),
        exit: () => this.#crash(thread, "its thread exited"),
      });
    } catch (error) {
      this.#threads.delete(thread);
      thread.state = "dead";
      settleLoad(error);
      // While starting, the start fails with it; later it counts as a failed load (backoff).
      if (this.#state === "running") {
        const detail = ` (${describeError(error).message})`;
        (this.#logger ??= createLogger("info")).error(
          `ThreadPool: a thread could not be started${detail}`,
        );
        this.#respawnLater(
          new ThreadCrashError(`No pool thread could be started${detail}`, { cause: error }),
        );
      }
      return thread;
    }
    thread.handle.post(
      { type: "init", module: this.module, exportName: this.#exportName } satisfies ToThread,
    );
    const timeoutMs = this.#loadTimeoutMs;
    if (Number.isFinite(timeoutMs)) {
      thread.loadTimer = setTimeout(() => {
        if (thread.state !== "loading") return;
        this.#crash(
          thread,
          "its thread could not load the task module",
          new ThreadCrashError(
            `A pool thread did not load the task module within ${timeoutMs} ms (loadTimeoutMs)`,
          ),
          true,
        );
      }, timeoutMs);
    }
    return thread;
  }

  #onMessage(thread: PoolThread, message: FromThread): void {
    if (thread.state === "dead") return;
    switch (message.type) {
      case "ready":
        clearTimeout(thread.loadTimer);
        thread.state = "ready";
        thread.readyAt = Date.now();
        thread.settleLoad();
        // The backoff is reset only once a thread proved healthy (see #crash), not on load: a
        // module that crashes right after loading would otherwise respawn in a tight loop.
        if (this.#state === "running") this.#dispatch();
        break;
      case "load-error": {
        const error = rebuildThreadError(message.error);
        this.#crash(thread, "its thread could not load the task module", error, true);
        break;
      }
      case "done":
        this.#done(thread, message.id, message.outcome);
        break;
      case "call":
        this.#answer(thread, message).catch((error) => {
          (this.#logger ??= createLogger("info")).error(
            `ThreadPool: could not answer a thread's call: ${describeError(error).message}`,
          );
        });
        break;
      case "crash":
        this.#crash(
          thread,
          "its thread threw an uncaught exception",
          rebuildThreadError(message.error),
        );
        break;
      case "exit":
        this.#crash(thread, "its thread ended itself (close or exit)");
        break;
      case "closed":
        thread.onClosed?.();
        break;
    }
  }

  /** Sends queued tasks to the least busy loaded threads with a free slot. */
  #dispatch(): void {
    while (this.#waiting > 0) {
      let best: PoolThread | undefined;
      for (const thread of this.#threads) {
        if (thread.state !== "ready" || thread.running.size >= this.concurrencyPerThread) continue;
        if (best === undefined || thread.running.size < best.running.size) best = thread;
        if (best.running.size === 0) break;
      }
      if (best === undefined) return;
      this.#send(best, this.#take()!);
    }
  }

  /** The oldest queued task still waiting (abandoned ones are dropped on the way). */
  #take(): Job | undefined {
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const job = queue[this.#head];
      queue[this.#head++] = undefined;
      if (this.#head === queue.length) {
        this.#queue = [];
        this.#head = 0;
      } else if (this.#head >= 1024 && this.#head * 2 >= queue.length) {
        this.#queue = queue.slice(this.#head);
        this.#head = 0;
      }
      if (job !== undefined && !job.settled) {
        this.#waiting--;
        return job;
      }
    }
    return undefined;
  }

  #send(thread: PoolThread, job: Job): void {
    const { run } = job;
    job.thread = thread;
    thread.running.set(job.id, job);
    try {
      thread.handle.post(
        {
          type: "run",
          id: job.id,
          taskName: run.definition.name,
          uuid: run.uuid,
          priority: run.priority,
          args: run.args,
          deliveries: run.deliveries,
          attempt: run.attempt ?? 1,
          appName: run.appName,
          workerId: run.workerId,
        } satisfies ToThread,
      );
    } catch (error) {
      // Arguments that cannot be cloned (a schema's output with functions, say).
      thread.running.delete(job.id);
      this.#settle(
        job,
        failure(
          new TypeError(
            `Cannot run task "${run.definition.name}" on a thread: its arguments cannot be sent (${
              describeError(error).message
            })`,
            { cause: error },
          ),
        ),
      );
      this.#checkIdle();
      return;
    }
    const maxTime = run.definition.maxTime;
    if (maxTime !== undefined) {
      job.timer = setTimeout(
        () =>
          this.#abandon(
            job,
            new TaskTimeoutError(run.definition.name, maxTime),
            `its maxTime of ${maxTime} ms passed`,
          ),
        maxTime,
      );
    }
  }

  /** Ends the task's run with its outcome (once). */
  #settle(job: Job, outcome: TaskOutcome): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    if (job.onAbort) job.run.signal.removeEventListener("abort", job.onAbort);
    job.resolve(outcome);
  }

  /**
   * Ends the task now (`reason`: a TaskCancelError → `cancel`, else `error`), aborts it in its
   * thread, and terminates that thread if the task is still there `terminateAfterMs` later.
   */
  #abandon(job: Job, reason: unknown, why: string): void {
    if (job.settled) return;
    this.#settle(job, abortOutcome(reason));
    const thread = job.thread;
    if (thread === undefined) {
      // Still queued: #take skips it.
      this.#waiting--;
      return;
    }
    if (thread.state === "dead") return;
    thread.handle.post(
      { type: "abort", id: job.id, reason: encodeThreadError(reason) } satisfies ToThread,
    );
    job.killTimer = setTimeout(() => {
      if (thread.running.get(job.id) !== job) return;
      this.#crash(
        thread,
        `it was terminated because task "${job.run.definition.name}" (${job.run.uuid}) did not stop within ${this.#terminateAfterMs} ms after ${why}`,
      );
    }, this.#terminateAfterMs);
  }

  #done(thread: PoolThread, id: number, outcome: ThreadOutcome): void {
    const job = thread.running.get(id);
    if (job === undefined) return;
    thread.running.delete(id);
    thread.finished = true;
    this.#restartDelay = 0;
    clearTimeout(job.killTimer);
    if (!job.settled) {
      if (outcome.status !== "error" || outcome.thrown === undefined) this.#settle(job, outcome);
      else {
        const retryOn = job.run.definition.retryOn ?? [];
        this.#settle(job, {
          status: "error",
          error: outcome.error,
          thrown: rebuildThreadError(outcome.thrown, retryOn),
        });
      }
    }
    this.#dispatch();
    this.#checkIdle();
  }

  /** A task context in a thread asks the broker of its run. */
  async #answer(thread: PoolThread, message: FromThread & { type: "call" }): Promise<void> {
    let reply: ToThread;
    try {
      const job = thread.running.get(message.id);
      if (job === undefined || job.settled) {
        throw new Error("The task's run has ended: its context can no longer reach the broker");
      }
      const broker = job.run.services?.broker;
      if (broker === undefined) {
        throw new TypeError(
          `Task "${job.run.definition.name}" cannot reach a broker: its run has no broker (TaskRun.services is not set)`,
        );
      }
      const value = message.op === "get"
        ? await broker.get(message.uuid)
        : message.op === "log"
        ? (await broker.appendLog?.(
          message.workerId,
          message.uuid,
          message.deliveries,
          message.line,
          {
            maxLines: message.maxLines,
            maxBytes: message.maxBytes,
          },
        )) ?? false
        : await broker.reportProgress(
          message.workerId,
          message.uuid,
          message.deliveries,
          message.json,
        );
      reply = { type: "reply", call: message.call, ok: true, value };
    } catch (error) {
      reply = { type: "reply", call: message.call, ok: false, error: encodeThreadError(error) };
    }
    if (thread.state === "dead") return;
    try {
      thread.handle.post(reply);
    } catch (error) {
      // The value cannot be sent (a DataCloneError): the call fails in the thread instead.
      thread.handle.post(
        {
          type: "reply",
          call: message.call,
          ok: false,
          error: encodeThreadError(
            new TypeError(
              `The broker's answer cannot be sent to the thread (${describeError(error).message})`,
              { cause: error },
            ),
          ),
        } satisfies ToThread,
      );
    }
  }

  /**
   * A thread died (or is put down): its tasks end with a ThreadCrashError, it is terminated, and
   * a new one takes its place while the pool runs (after a load failure, with backoff).
   */
  #crash(thread: PoolThread, why: string, cause?: unknown, atLoad = false): void {
    if (thread.state === "dead") return;
    const loading = thread.state === "loading";
    void this.#kill(thread);
    const detail = cause === undefined ? "" : ` (${describeError(cause).message})`;
    thread.settleLoad(cause ?? new ThreadCrashError(`A pool thread died while loading: ${why}`));
    this.#loseRunning(thread, why, cause);
    if (this.#state !== "running") {
      this.#checkIdle();
      return;
    }
    (this.#logger ??= createLogger("info")).error(
      `ThreadPool: a thread was replaced: ${why}${detail}`,
    );
    if (atLoad || loading) {
      this.#respawnLater(
        new ThreadCrashError(`No pool thread could load the task module${detail}`, { cause }),
      );
    } else if (thread.finished || Date.now() - thread.readyAt >= STABLE_MS) {
      // A healthy thread: replaced at once.
      this.#restartDelay = 0;
      this.#spawn();
      this.#dispatch();
    } else {
      // Crashed soon after loading, before finishing a task: maybe the module itself (a timer
      // that throws), so replaced with backoff. Queued tasks wait: the module does load.
      this.#restartDelay = Math.min(
        RESTART_MAX_MS,
        Math.max(RESTART_MIN_MS, this.#restartDelay * 2),
      );
      this.#spawnAfter(this.#restartDelay);
    }
    this.#checkIdle();
  }

  /**
   * Starts a thread in place of one that could not load (or be started) after the backoff
   * (100 ms doubling to 10 s). With no thread loaded, the queued tasks fail with `error`: they
   * would wait for a module that may never load.
   */
  #respawnLater(error: ThreadCrashError): void {
    this.#restartDelay = Math.min(
      RESTART_MAX_MS,
      Math.max(RESTART_MIN_MS, this.#restartDelay * 2),
    );
    if (![...this.#threads].some((other) => other.state === "ready")) this.#failQueued(error);
    this.#spawnAfter(this.#restartDelay);
  }

  #spawnAfter(delayMs: number): void {
    const timer = setTimeout(() => {
      this.#restartTimers.delete(timer);
      if (this.#state === "running") this.#spawn();
    }, delayMs);
    this.#restartTimers.add(timer);
  }

  /** Ends the tasks on a thread that died with a ThreadCrashError. */
  #loseRunning(thread: PoolThread, why: string, cause?: unknown): void {
    const detail = cause === undefined ? "" : ` (${describeError(cause).message})`;
    for (const job of thread.running.values()) {
      clearTimeout(job.killTimer);
      this.#settle(
        job,
        failure(
          new ThreadCrashError(
            `Task "${job.run.definition.name}" (${job.run.uuid}) was lost: ${why}${detail}`,
            { cause },
          ),
        ),
      );
    }
    thread.running.clear();
  }

  /** Terminates the thread and forgets it (close and a failed start await the termination). */
  #kill(thread: PoolThread): Promise<void> {
    clearTimeout(thread.loadTimer);
    thread.state = "dead";
    this.#threads.delete(thread);
    if (thread.handle === undefined) return Promise.resolve();
    const terminated = thread.handle.terminate().catch(() => {}).finally(() =>
      this.#terminating.delete(terminated)
    );
    this.#terminating.add(terminated);
    return terminated;
  }

  #failQueued(error: unknown): void {
    const queued = this.#queue.slice(this.#head).filter((job) => job !== undefined && !job.settled);
    this.#queue = [];
    this.#head = 0;
    this.#waiting = 0;
    const thrown = error instanceof Error ? error : new Error(String(error));
    for (const job of queued) this.#settle(job!, failure(thrown));
  }
}

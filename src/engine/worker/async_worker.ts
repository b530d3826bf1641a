/**
 * The AsyncWorker: runs up to `concurrency` tasks at once on the event loop, with every broker
 * call batched into exchanges. Its loop, one turn of which is driven by {@linkcode AsyncWorker}'s
 * private `#kick` after any event (a claim came back, a task finished, a wake-up, a timer):
 *
 * ```text
 *   #kick ── want = free slots + claim-ahead target − held − claims in flight
 *     │        (0 while an isolated task runs, or while the quarantine waits for us to drain)
 *     │
 *     ├─ settlements queued, or a claim worth sending (≥ ¼ of the slots), and fewer than 2
 *     │  exchanges in flight (1 while isolating):
 *     │     #exchange ── broker.exchange({ settlements, want, leaseMs, recoverLimit, idle })
 *     │                  one round trip: settle ▸ recover expired leases ▸ move due ▸ claim
 *     │
 *     └─ nothing in flight and the queue looked empty:
 *           #wait ────── broker.waitForTasks(min(idleWakeMs, next due), stop, claim)
 *                        Redis: BZPOPMIN with the claim pipelined behind it
 *
 *   #absorb (either reply) ── claimed tasks ─► #adding (worker_add plugins) ─► #ahead
 *   #startAhead ── a free slot? ─► #launch ─► #run: decode args ▸ schema ▸ executor.execute
 *                                   (one AbortSignal: maxTime, cancel, lost lease, shutdown)
 *   #finish ── success | error | retry (with backoff) | cancel ─► a Settlement queued ─► #kick
 *              (it rides on the next exchange, fused with the next claim)
 *
 *   beside the loop: #renewLeases every leaseMs/3 (one extendLeases for all held tasks; lost
 *   ones are aborted, cancel-requested ones cancelled); watchCancellations aborts a task whose
 *   cancel was requested; a failed exchange is retried with backoff, its settlements kept.
 * ```
 *
 * Where prefetch happens: `#wanted` adds `#aheadTarget()` (concurrency × exchange round trip ÷
 * task time, both moving averages, at most `prefetch`) to the free slots, so short tasks are
 * claimed before the slots free up and wait in `#ahead`; slow tasks get no claim-ahead. Where
 * batching happens: finishes are queued, not sent, and every exchange carries all queued
 * settlements plus the claim, so the finishes of one event-loop turn and the next claim share
 * one round trip; at most two exchanges are in flight, so Redis runs one while the worker runs
 * the tasks of the other.
 *
 * @module
 */
import type {
  Broker,
  ClaimedTask,
  ExchangeRequest,
  ExchangeResult,
  Settlement,
} from "../../ports/broker.ts";
import { InvalidPayloadError } from "../../model/errors/invalid_payload_error.ts";
import { ConfigError } from "../../model/errors/config_error.ts";
import { LeaseLostError } from "../../model/errors/lease_lost_error.ts";
import { RateLimitedError } from "../../model/errors/rate_limited_error.ts";
import { TaskCancelError } from "../../model/errors/task_cancel_error.ts";
import {
  DEFAULT_QUEUE,
  readWorkerQueues,
  weightedOrder,
  type WorkerQueue,
} from "../../model/queue_name.ts";
import { UnknownTaskError } from "../../model/errors/unknown_task_error.ts";
import { WorkerShutdownError } from "../../model/errors/worker_shutdown_error.ts";
import { AsyncTaskExecutor } from "../executor/async_task_executor.ts";
import type { TaskExecutor, TaskOutcome, TaskRun } from "../../ports/task_executor.ts";
import type { TaskMiddleware } from "../../plugins/task_middleware.ts";
import type { PluginHub } from "../../plugins/plugin_hub.ts";
import { getRuntime } from "../../ports/runtime.ts";
import type { AppEvents } from "../../plugins/app_events.ts";
import { describeError } from "../../model/task_codec.ts";
import { executeInjected } from "../executor/_dependency_resolver.ts";
import type { TaskServices } from "../../ports/task_context.ts";
import { parseArgs } from "../../model/task_schema.ts";
import { logFailedRun } from "./_failed_run_log.ts";
import { listenForAbort } from "../executor/_task_generator.ts";
import { backoffDelay, DEFAULT_BACKOFF, isRetryable } from "../../model/retry_policy.ts";
import type { TaskErrorInfo } from "../../model/task_record.ts";
import type { Worker, WorkerHost, WorkerStopOptions } from "../../ports/worker.ts";
import { newTaskUuid } from "../../model/task_uuid.ts";

type FailedOutcome = Extract<TaskOutcome, { status: "error" }>;

/**
 * A running task: its lease token and its abort. The default executor hears the abort of the
 * run's signal through `whenAborted` (TaskRun), which here is a field set, not an event listener
 * on the signal (about 1 µs a task on Deno and Node, more on Bun).
 */
class RunningTask {
  deliveries: number;
  released = false;
  readonly controller: AbortController = new AbortController();
  readonly signal: AbortSignal = this.controller.signal;
  #listener: ((reason: unknown) => void) | undefined;

  constructor(deliveries: number) {
    this.deliveries = deliveries;
  }

  /** Aborts the run: its signal, then the executor's listener (`whenAborted`). */
  abort(reason: unknown): void {
    if (this.signal.aborted) return;
    this.controller.abort(reason);
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.(this.signal.reason);
  }

  /**
   * TaskRun.whenAborted: for this run's own signal, one listener kept in a field; for any other
   * signal (a wrapping executor's), or a second listener, an event listener on the signal.
   */
  whenAborted(signal: AbortSignal, listener: (reason: unknown) => void): () => void {
    if (signal !== this.signal || this.#listener !== undefined) {
      return listenForAbort(signal, listener);
    }
    if (signal.aborted) {
      listener(signal.reason);
      return NOTHING;
    }
    this.#listener = listener;
    return () => {
      if (this.#listener === listener) this.#listener = undefined;
    };
  }
}

const NOTHING = (): void => {};

/**
 * Options of {@linkcode AsyncWorker}.
 *
 * @example
 * ```ts
 * import { MemoryBroker } from "@qtasks/qtasks/memory";
 * import type { AsyncWorkerOptions } from "@qtasks/qtasks/ports";
 *
 * const options: AsyncWorkerOptions = { broker: new MemoryBroker(), concurrency: 50 };
 * ```
 */
export interface AsyncWorkerOptions {
  /** Where tasks come from. */
  broker: Broker;
  /** Tasks run at once (default: the config's `maxTasksProcess`). */
  concurrency?: number;
  /**
   * Most tasks claimed ahead of free slots (default: the config's `maxTasksPrefetch`); the
   * worker claims ahead only as many as its running tasks get through during one exchange
   * round trip. 0 turns claiming ahead off.
   */
  prefetch?: number;
  /**
   * Runs each task that has no executor of its own (default: the app's `executor` option, else
   * an {@linkcode AsyncTaskExecutor}).
   */
  executor?: TaskExecutor;
  /** This worker's id, the owner of its leases (default: `host:pid:random`). */
  id?: string;
  /**
   * The queues it takes tasks from (default: `["default"]`, the queue of tasks that name none):
   * in the list's order (it empties the first before it takes from the next), or, when any
   * entry has a `weight`, in an order drawn for each claim (a queue comes first with a chance
   * proportional to its weight). Priorities hold within each queue. On a named queue it claims
   * only the tasks it knows (registered on its app). A name that no task of the app uses is
   * logged once at start; the others are served. See docs/flow-control.md.
   */
  queues?: Array<string | WorkerQueue>;
}

/** Workers started in this process, by app name and id: a second one with the same id is refused. */
const LIVE_IDS = new Set<string>();

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 5_000;
const SETTLE_AFTER_GRACE_MS = 5_000;
const MAX_EXCHANGES_IN_FLIGHT = 2;
/** Weight of the newest sample in the moving averages of task time and exchange round trip. */
const AVERAGE_WEIGHT = 0.2;

/**
 * Runs up to `concurrency` tasks at once on the event loop.
 *
 * It settles finished tasks and claims new ones in one broker exchange, renews the leases of
 * the tasks it holds, and blocks on the broker when idle. It claims for its free slots and,
 * when tasks are short, a few ahead: as many as its running tasks get through while the next
 * exchange is in flight (moving averages of task time and round trip, at most `prefetch`), so
 * that it never waits for Redis between tasks, while a slow task is never held back from other
 * workers. A task that throws, has bad arguments or
 * an unknown name ends as `error`; the worker carries on. When the broker is unreachable it
 * retries with backoff, keeping the results it has not stored yet.
 *
 * A run that fails while its task has retries left (the task's `retry` option, then the
 * record's `retry`) and a retryable error (see {@linkcode isRetryable}) is settled as `retry`:
 * the broker stores the error with status `retry` and creates the next attempt, claimable after
 * the task's backoff. When idle it blocks no longer than until the next scheduled task is due.
 *
 * It runs the `worker_*` triggers: `worker_add` for each claimed task it takes in,
 * `worker_execute_before` when one is about to start, `worker_run_task_before` once its arguments
 * are decoded, `worker_execute_after` with its outcome, `worker_task_error_retry` before a failed
 * run is retried, and `worker_remove_finished_task` before its settlement goes to the broker. A
 * trigger no plugin hears costs one map lookup.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { AsyncWorker } from "@qtasks/qtasks/ports";
 * import { RedisBroker } from "@qtasks/qtasks/redis";
 *
 * const broker = new RedisBroker({ name: "shop", url: "redis://127.0.0.1:6379" });
 * const app = new QueueTasks({ name: "shop", broker, worker: new AsyncWorker({ broker, concurrency: 100 }) });
 * ```
 */
export class AsyncWorker implements Worker {
  /** Where tasks come from. */
  readonly broker: Broker;
  /** This worker's id. */
  readonly id: string;
  #executorOption: TaskExecutor | undefined;
  /** The executor of tasks without their own: the option's, the app's, or the default. */
  #executor: TaskExecutor;
  #plugins: PluginHub | undefined;
  /** What echo tasks' contexts use: this broker, the app's config and logger (set by bind). */
  #services: TaskServices | undefined;
  #concurrencyOption: number | undefined;
  #host: WorkerHost | undefined;
  #state: "idle" | "running" | "stopping" = "idle";
  #running = new Map<string, RunningTask>();
  /** Claimed ahead of free slots, in claim order (the queue's order); not started yet. */
  #ahead: ClaimedTask[] = [];
  /** Claimed, waiting for the worker_add plugins before they join #ahead (in claim order). */
  #adding: ClaimedTask[] = [];
  #takingIn = false;
  #prefetchOption: number | undefined;
  /** Moving averages of a task's run time and of an exchange round trip, in ms. */
  #taskMs = 0;
  #tripMs = 0;
  #settlements: Settlement[] = [];
  /** Exchanges in flight, and the slots their claims may fill. */
  #inFlight = 0;
  #reserved = 0;
  #turnScheduled = false;
  #defer: (callback: () => void) => void;
  /** Wake-ups so far: a claim sent before the latest one must not clear #mayHaveWork. */
  #wakes = 0;
  /** A retry scheduled after a failed exchange. */
  #retry: ReturnType<typeof setTimeout> | undefined;
  #mayHaveWork = true;
  #waiting = false;
  #failures = 0;
  #stopController = new AbortController();
  #leaseTimer: ReturnType<typeof setInterval> | undefined;
  #drainWaiters: Array<() => void> = [];
  /** The wait for tasks in flight, if any (a stop lets it come back: see #stop). */
  #waitDone: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #starting: Promise<void> | undefined;
  /** When the leases were last renewed (or the renewals began), performance.now() time. */
  #renewedAt = 0;
  /** The renewal sent after a stall, until it is done: exchanges and waits go after it. */
  #afterStall: Promise<void> | undefined;
  /** Running tasks taken from the quarantine (0 or 1): nothing else is claimed meanwhile. */
  #isolated = 0;
  /** Tasks in the quarantine, as of the last exchange. */
  #quarantined = 0;
  /** When the next scheduled task is due (performance.now() time), as of the last exchange. */
  #nextDueAt: number | undefined;
  #unwatchCancels: (() => void) | undefined;
  /** Its named queues (undefined: the default queue alone). */
  #queues: { names: string[]; weights: number[]; weighted: boolean } | undefined;
  /** The task names it knows, read at start (sent with claims on named queues). */
  #taskNames: string[] = [];

  /**
   * Creates a AsyncWorker.
   *
   * @param options The broker and optional concurrency, executor and id.
   */
  constructor(options: AsyncWorkerOptions) {
    if (!options || !options.broker) {
      throw new TypeError("Cannot create AsyncWorker: broker is required");
    }
    if (
      options.concurrency !== undefined &&
      (!Number.isInteger(options.concurrency) || options.concurrency < 1)
    ) {
      throw new RangeError(
        `Cannot create AsyncWorker: concurrency must be a positive integer, got ${options.concurrency}`,
      );
    }
    this.broker = options.broker;
    if (
      options.executor !== undefined &&
      (options.executor === null || typeof options.executor.execute !== "function")
    ) {
      throw new TypeError(
        "Cannot create AsyncWorker: executor must be an object with an execute(run) method",
      );
    }
    this.#executorOption = options.executor;
    this.#executor = options.executor ?? new AsyncTaskExecutor();
    if (
      options.prefetch !== undefined &&
      (!Number.isInteger(options.prefetch) || options.prefetch < 0)
    ) {
      throw new RangeError(
        `Cannot create AsyncWorker: prefetch must be a non-negative integer, got ${options.prefetch}`,
      );
    }
    this.#concurrencyOption = options.concurrency;
    this.#prefetchOption = options.prefetch;
    if (options.queues !== undefined) this.queues = options.queues;
    const runtime = getRuntime();
    this.#defer = runtime.defer;
    this.id = options.id ??
      `${runtime.hostname()}:${runtime.pid}:${crypto.randomUUID().slice(0, 8)}`;
  }

  /**
   * Runs each task that has no executor of its own: the `executor` option, else the app's, else
   * an {@linkcode AsyncTaskExecutor}.
   */
  get executor(): TaskExecutor {
    return this.#executor;
  }

  /** Whether it is taking tasks. */
  get running(): boolean {
    return this.#state === "running";
  }

  /** How many tasks run at once. */
  get concurrency(): number {
    return this.#concurrencyOption ?? this.#host?.config.maxTasksProcess ?? 10;
  }

  /**
   * Sets how many tasks run at once (`qtasks worker --concurrency`); set it before `start`.
   *
   * @throws {RangeError} For a value that is not a positive integer.
   */
  set concurrency(value: number) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`AsyncWorker concurrency must be a positive integer, got ${value}`);
    }
    this.#concurrencyOption = value;
  }

  /** The queues it takes tasks from, in order (`["default"]` unless set). */
  get queues(): string[] {
    return [...(this.#queues?.names ?? [DEFAULT_QUEUE])];
  }

  /**
   * Sets the queues it takes tasks from (`qtasks worker --queues`); set it before `start`.
   *
   * @throws {TypeError} On an empty list, a bad queue name or a weight that is not a positive
   * integer.
   */
  set queues(value: Array<string | WorkerQueue>) {
    const read = readWorkerQueues(value, "Cannot set the worker's queues");
    const onlyDefault = read.names.length === 1 && read.names[0] === DEFAULT_QUEUE;
    this.#queues = onlyDefault ? undefined : read;
  }

  /** Most tasks claimed ahead of free slots. */
  get prefetch(): number {
    return this.#prefetchOption ?? this.#host?.config.maxTasksPrefetch ?? 0;
  }

  /** How many tasks are running now. */
  get active(): number {
    return this.#running.size;
  }

  /** How many tasks this worker holds: running, and claimed ahead of free slots. */
  get held(): number {
    return this.#running.size + this.#ahead.length + this.#adding.length;
  }

  /** Attaches the app's tasks, config, logger, plugins, executor and middlewares. */
  bind(host: WorkerHost): void {
    this.#host = host;
    this.#plugins = host.plugins;
    this.#services = { broker: this.broker, config: host.config, logger: host.logger };
    if (this.#executorOption === undefined && host.executor !== undefined) {
      this.#executor = host.executor;
    }
  }

  /**
   * Starts taking tasks. Calls made while it starts share that start; a call while it runs does
   * nothing.
   */
  async start(): Promise<void> {
    const host = this.#requireHost();
    if (this.#starting) return await this.#starting;
    if (this.#state !== "idle") return;
    this.#starting = this.#start(host).finally(() => this.#starting = undefined);
    return await this.#starting;
  }

  async #start(host: WorkerHost): Promise<void> {
    const liveKey = `${host.name}\0${this.id}`;
    await this.#refuseDuplicateId(host, liveKey);
    LIVE_IDS.add(liveKey);
    try {
      await this.#startTaking(host);
    } catch (error) {
      LIVE_IDS.delete(liveKey);
      throw error;
    }
  }

  /**
   * Refuses to start under an id a live worker of the app has: one started in this process, or
   * one whose heartbeat record (stats) comes from another host or process. Two workers with one
   * id would share their leases' owner and their stats record. A record of this host and pid
   * (this process before a restart, such as pid 1 in a container) does not count.
   */
  async #refuseDuplicateId(host: WorkerHost, liveKey: string): Promise<void> {
    const refuse = (where: string) =>
      new ConfigError(
        "id",
        `Cannot start worker "${this.id}" of app "${host.name}": a live worker with this id runs ${where}; give each worker its own id, or leave id unset (host:pid:random)`,
      );
    if (LIVE_IDS.has(liveKey)) throw refuse("in this process");
    const globalConfig = this.broker.storage.globalConfig;
    if (!host.config.statsEnabled || !globalConfig) return;
    const runtime = getRuntime();
    const live = (await globalConfig.readWorkerStats()).workers.find((worker) =>
      worker.workerId === this.id &&
      (worker.host !== runtime.hostname() || worker.pid !== runtime.pid)
    );
    if (live) throw refuse(`on ${live.host} (pid ${live.pid})`);
  }

  async #startTaking(host: WorkerHost): Promise<void> {
    const { config } = host;
    this.#checkQueues(host);
    if (config.deleteFinishedTasks) {
      const deleted = await this.broker.storage.deleteFinished();
      host.logger.info(`Deleted ${deleted} finished task records (deleteFinishedTasks)`);
    }
    if (config.runningOlderTasks) {
      let recovered = 0;
      for (;;) {
        const result = await this.broker.exchange({
          ...this.#limits(),
          settlements: [],
          want: 0,
          recoverLimit: 1000,
        });
        recovered += result.recovered;
        if (result.recovered < 1000) break;
      }
      host.logger.info(`Recovered ${recovered} tasks with expired leases (runningOlderTasks)`);
    }
    this.#unwatchCancels = await this.broker.watchCancellations((uuid, reason) =>
      this.#cancel(uuid, reason)
    );
    this.#state = "running";
    this.#stopController = new AbortController();
    this.#mayHaveWork = true;
    this.#quarantined = 0;
    const every = Math.max(50, config.leaseMs / 3);
    this.#renewedAt = performance.now();
    let tick = this.#renewedAt;
    this.#leaseTimer = setInterval(() => {
      // How late this timer fired: the event loop was blocked that long.
      const now = performance.now();
      const blocked = now - tick - every;
      tick = now;
      if (this.#leasesFirst() === undefined) void this.#renewLeases();
      if (blocked > config.leaseMs / 2) this.#warnBlocked(blocked, config.leaseMs);
    }, every);
    host.logger.info(`Worker ${this.id} started (concurrency ${this.concurrency})`);
    await host.plugins?.start("worker");
    await host.plugins?.run("worker_start", {
      appName: host.name,
      workerId: this.id,
      concurrency: this.concurrency,
    });
    host.events?.emit("workerRunning", {
      appName: host.name,
      workerId: this.id,
      concurrency: this.concurrency,
    });
    this.#kick();
  }

  /** Stops gracefully: see {@linkcode Worker.stop}. */
  stop(options: WorkerStopOptions = {}): Promise<void> {
    if (this.#state === "running") {
      this.#stopping = this.#stop(options).finally(() => this.#stopping = undefined);
    } else if (this.#starting) {
      // Still starting: stop once started (a failed start leaves nothing to stop).
      return this.#starting.then(() => this.stop(options), () => {});
    }
    return this.#stopping ?? Promise.resolve();
  }

  async #stop(options: WorkerStopOptions): Promise<void> {
    const host = this.#requireHost();
    const graceMs = options.graceMs ?? host.config.shutdownGraceMs;
    this.#state = "stopping";
    this.#stopController.abort();
    host.events?.emit("workerStopping", { appName: host.name, workerId: this.id });
    // Tasks claimed ahead (or still with the worker_add plugins) have not started: they go
    // straight back to the queue.
    for (const task of this.#ahead.concat(this.#adding)) {
      this.#settlements.push({ uuid: task.uuid, deliveries: task.deliveries, status: "release" });
    }
    this.#ahead = [];
    this.#adding = [];
    if (this.#settlements.length > 0) this.#kick();
    host.logger.info(
      `Worker ${this.id} stopping: waiting up to ${graceMs} ms for ${this.#running.size} running tasks`,
    );
    if (!(await this.#drained(graceMs))) {
      for (const [uuid, task] of this.#running) {
        task.released = true;
        task.abort(new WorkerShutdownError(`Worker ${this.id} is shutting down`));
        this.#settlements.push({ uuid, deliveries: task.deliveries, status: "release" });
      }
      host.logger.warn(`Gave ${this.#running.size} unfinished tasks back to the queue`);
      this.#running.clear();
      this.#isolated = 0;
      this.#kick();
      if (!(await this.#drained(SETTLE_AFTER_GRACE_MS))) {
        host.logger.error(
          `Could not store ${this.#settlements.length} results before stopping; their tasks will run again after their leases expire`,
        );
        this.#settlements = [];
      }
    }
    // A wait in flight when the stop began may come back with a claim that rode on it (Redis: the
    // server ends the blocking command and answers the claim behind it): its tasks go back to
    // the queue before the worker stops, rather than when their leases expire.
    const waiting = this.#waitDone;
    if (waiting !== undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        waiting,
        new Promise((resolve) => timer = setTimeout(resolve, SETTLE_AFTER_GRACE_MS)),
      ]);
      clearTimeout(timer);
      if (this.#settlements.length > 0) {
        this.#kick();
        await this.#drained(SETTLE_AFTER_GRACE_MS);
      }
    }
    clearInterval(this.#leaseTimer);
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#unwatchCancels?.();
    this.#unwatchCancels = undefined;
    this.#state = "idle";
    LIVE_IDS.delete(`${host.name}\0${this.id}`);
    await host.plugins?.run("worker_stop", { appName: host.name, workerId: this.id });
    await host.plugins?.stop("worker");
    host.logger.info(`Worker ${this.id} stopped`);
  }

  #requireHost(): WorkerHost {
    if (!this.#host) {
      throw new Error(
        "Cannot start the worker: it is not attached to an app (new QueueTasks({ worker }))",
      );
    }
    return this.#host;
  }

  #limits(): Omit<ExchangeRequest, "settlements" | "want" | "recoverLimit"> {
    const config = this.#requireHost().config;
    const limits: Omit<ExchangeRequest, "settlements" | "want" | "recoverLimit"> = {
      workerId: this.id,
      leaseMs: config.leaseMs,
      resultTtlMs: config.resultTtlMs,
      failedTtlMs: config.failedTtlMs,
      maxDeliveries: config.maxDeliveries,
    };
    // Named queues: their order (drawn per claim when weighted), and the names it knows.
    const queues = this.#queues;
    if (queues !== undefined) {
      limits.queues = queues.weighted ? weightedOrder(queues.names, queues.weights) : queues.names;
      limits.taskNames = this.#taskNames;
    }
    return limits;
  }

  /**
   * At start: the task names it knows (for claims on named queues), and one warning for each of
   * its queues that no registered task uses (it serves it all the same: calls may name it).
   */
  #checkQueues(host: WorkerHost): void {
    const queues = this.#queues;
    if (queues === undefined) return;
    this.#taskNames = [...host.tasks.keys()];
    const used = new Set<string>();
    for (const definition of host.tasks.values()) used.add(definition.queue ?? DEFAULT_QUEUE);
    for (const name of queues.names) {
      if (used.has(name)) continue;
      host.logger.warn(
        `Worker ${this.id}: no task of app "${host.name}" is registered on queue "${name}" (a typo?); it serves it anyway, with ${
          queues.names.filter((q) => q !== name).map((q) => `"${q}"`).join(", ") || "no other"
        }`,
      );
    }
  }

  #drained(timeoutMs: number): Promise<boolean> {
    if (this.#isDrained()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#drainWaiters = this.#drainWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#drainWaiters.push(done);
    });
  }

  #isDrained(): boolean {
    return this.#running.size === 0 && this.#ahead.length === 0 && this.#adding.length === 0 &&
      this.#settlements.length === 0 && this.#inFlight === 0 && this.#retry === undefined;
  }

  /**
   * Sends exchanges while there is something to settle or free slots to fill: up to two at a
   * time, so that Redis runs one while this worker runs the tasks of the other (one only while
   * quarantined tasks are about, so that an isolated task never arrives beside others).
   */
  #kick(): void {
    if (this.#retry !== undefined) return;
    const maxInFlight = this.#isolated > 0 || this.#quarantined > 0 ? 1 : MAX_EXCHANGES_IN_FLIGHT;
    while (this.#inFlight < maxInFlight) {
      // The claim rides on every exchange, also one that only settles.
      const { want, idle } = this.#wanted();
      if (this.#settlements.length === 0) {
        // A claim alone goes out when idle, or for a worthwhile batch (not one task at a time).
        if (want === 0 || !this.#mayHaveWork) break;
        if (!idle && want < this.#minClaim()) break;
      }
      const settlements = this.#settlements;
      this.#settlements = [];
      void this.#exchange(settlements, want, idle);
    }
    if (this.#inFlight === 0 && this.#state === "running" && !this.#mayHaveWork) {
      if (!this.#waiting && this.#running.size < this.concurrency) {
        this.#waitDone = this.#wait();
      }
    }
    if (this.#isDrained() && this.#drainWaiters.length > 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const done of waiters) done();
    }
  }

  /**
   * How many tasks to claim now: free slots plus those claimed ahead, less what this worker holds
   * or has claims in flight for; none while an isolated task runs, nor while tasks wait in the
   * quarantine and this worker still holds others (it drains, then takes one of them alone).
   */
  #wanted(): { want: number; idle: boolean } {
    const busy = this.#running.size + this.#ahead.length + this.#adding.length + this.#reserved;
    const isolating = this.#isolated > 0 || (this.#quarantined > 0 && busy > 0);
    if (this.#state !== "running" || isolating) return { want: 0, idle: busy === 0 };
    return { want: Math.max(0, this.concurrency + this.#aheadTarget() - busy), idle: busy === 0 };
  }

  /** Smallest claim sent on its own while this worker still holds tasks. */
  #minClaim(): number {
    return Math.max(1, Math.floor((this.concurrency + this.#aheadTarget()) / 4));
  }

  /**
   * Tasks to claim ahead: what the running tasks get through during one exchange round trip
   * (concurrency × round trip / task time), at most `prefetch`; none before both are measured.
   */
  #aheadTarget(): number {
    const limit = this.prefetch;
    if (limit === 0 || this.#tripMs === 0 || this.#taskMs === 0) return 0;
    return Math.min(limit, Math.floor(this.concurrency * this.#tripMs / this.#taskMs));
  }

  async #exchange(settlements: Settlement[], want: number, idle: boolean): Promise<void> {
    const host = this.#requireHost();
    const wakesBefore = this.#wakes;
    this.#inFlight++;
    this.#reserved += want;
    const sent = performance.now();
    let result;
    try {
      // After a stall (a blocked event loop), the leases first: this exchange would recover them.
      const first = this.#leasesFirst();
      if (first !== undefined) await first;
      result = await this.broker.exchange({
        ...this.#limits(),
        settlements,
        want,
        recoverLimit: 100,
        idle,
      });
      this.#failures = 0;
      this.#tripMs = average(this.#tripMs, performance.now() - sent);
    } catch (error) {
      this.#settlements = settlements.concat(this.#settlements);
      this.#failures++;
      const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(this.#failures, 10));
      host.logger.warn(
        `Worker ${this.id}: broker exchange failed (${
          (error as Error).message
        }); retrying in ${delay} ms`,
      );
      this.#retry ??= setTimeout(() => {
        this.#retry = undefined;
        this.#kick();
      }, delay);
      return;
    } finally {
      this.#inFlight--;
      this.#reserved -= want;
    }
    this.#absorb(result, want, wakesBefore);
    this.#kick();
  }

  /** Takes in what an exchange did: warnings, the quarantine, and the tasks it claimed. */
  #absorb(result: ExchangeResult, want: number, wakesBefore: number): void {
    const host = this.#requireHost();
    if (result.rejected.length > 0) {
      host.logger.warn(
        `Worker ${this.id}: ${result.rejected.length} results were not stored: this worker no longer held those tasks (their leases expired before the results arrived, for example while Redis or this event loop was stalled, and another worker recovered them: they were queued again or ended there)`,
        { uuids: result.rejected },
      );
    }
    if (result.dropped.length > 0) {
      host.logger.warn(
        `Worker ${this.id}: dropped ${result.dropped.length} queue entries that had no task record`,
        { uuids: result.dropped },
      );
    }
    this.#quarantined = result.quarantined;
    this.#nextDueAt = result.nextDueMs === undefined
      ? undefined
      : performance.now() + result.nextDueMs;
    // The queue looked empty to this claim; a wake-up since it was sent says otherwise.
    if (want > 0 && result.claimed.length < want && this.#wakes === wakesBefore) {
      this.#mayHaveWork = false;
    }
    // With worker_add plugins, tasks wait for them in #adding (in claim order) first.
    const plugins = this.#plugins;
    const adding = plugins !== undefined && result.claimed.length > 0 &&
      plugins.listens("worker_add");
    for (const task of result.claimed) {
      // stop() began while this claim was in flight: give the task straight back.
      if (this.#state !== "running") {
        this.#settlements.push({ uuid: task.uuid, deliveries: task.deliveries, status: "release" });
      } else if (adding) this.#adding.push(task);
      else this.#ahead.push(task);
    }
    if (adding) void this.#takeIn(plugins);
    this.#startAhead();
  }

  /**
   * Runs worker_add for the tasks in #adding, one at a time in claim order, and moves each (as
   * the plugins left it) to #ahead, where it starts when a slot is free. A task cancelled, lost
   * or given back meanwhile has left #adding and is skipped.
   */
  async #takeIn(plugins: PluginHub): Promise<void> {
    if (this.#takingIn) return;
    this.#takingIn = true;
    try {
      while (this.#adding.length > 0) {
        const task = this.#adding[0];
        let taken = task;
        try {
          taken = (await plugins.run("worker_add", {
            appName: this.#requireHost().name,
            workerId: this.id,
            task,
          })).task;
        } catch (error) {
          this.#requireHost().logger.error(
            `Worker ${this.id}: worker_add failed (${(error as Error).message})`,
          );
        }
        if (this.#adding[0] !== task) continue;
        this.#adding.shift();
        if (this.#state !== "running") {
          this.#settlements.push({
            uuid: task.uuid,
            deliveries: task.deliveries,
            status: "release",
          });
        } else {
          this.#ahead.push(taken);
          this.#startAhead();
        }
      }
    } finally {
      this.#takingIn = false;
      this.#kick();
    }
  }

  /**
   * Blocks on the broker until tasks may be there, with a claim for the free slots riding on the
   * wake-up (Redis: in the same round trip), then goes on.
   */
  async #wait(): Promise<void> {
    this.#waiting = true;
    const { want, idle } = this.#wanted();
    const claim: ExchangeRequest | undefined = want > 0
      ? { ...this.#limits(), settlements: [], want, recoverLimit: 100, idle }
      : undefined;
    if (claim) this.#reserved += want;
    let result: ExchangeResult | undefined;
    // With a claim, block no longer than until the next scheduled task is due (the claim's reply
    // then says when the one after it is).
    let timeoutMs = this.#requireHost().config.idleWakeMs;
    if (claim && this.#nextDueAt !== undefined) {
      timeoutMs = Math.min(timeoutMs, Math.max(0, Math.ceil(this.#nextDueAt - performance.now())));
    }
    try {
      const first = this.#leasesFirst();
      if (first !== undefined) await first;
      result = await this.broker.waitForTasks(timeoutMs, this.#stopController.signal, claim);
    } catch (error) {
      this.#requireHost().logger.warn(
        `Worker ${this.id}: waiting for tasks failed (${(error as Error).message})`,
      );
      await new Promise((resolve) => setTimeout(resolve, RETRY_MAX_MS / 5));
    } finally {
      this.#waiting = false;
      if (claim) this.#reserved -= want;
    }
    this.#wakes++;
    if (this.#state === "running") this.#mayHaveWork = true;
    if (result) this.#absorb(result, want, this.#wakes);
    this.#kick();
  }

  #launch(task: ClaimedTask): void {
    const entry = new RunningTask(task.deliveries);
    this.#running.set(task.uuid, entry);
    if (task.isolated) this.#isolated++;
    const started = performance.now();
    const plugins = this.#plugins;
    if (
      plugins !== undefined && (plugins.listens("worker_execute_before") ||
        plugins.listens("worker_execute_after") || plugins.listens("worker_remove_finished_task"))
    ) {
      void this.#launchWithPlugins(plugins, task, entry, started);
      return;
    }
    this.#emitRunning(task);
    void this.#run(task, entry).then((outcome) => {
      if (entry.released) return;
      if (outcome.status !== "error") {
        this.#finish(task, task, started, {
          uuid: task.uuid,
          deliveries: task.deliveries,
          ...outcome,
        });
        return;
      }
      const settlement = this.#failed(task, task, outcome);
      if (!(settlement instanceof Promise)) this.#finish(task, task, started, settlement);
      else {
        void settlement.then((settled) => {
          if (!entry.released) this.#finish(task, task, started, settled);
        });
      }
    });
  }

  /**
   * The settlement of a failed run (`task` is the one claimed, `current` as the plugins left it):
   * `retry` when it has retries left and the error is retryable, after `worker_task_error_retry`
   * (when heard, it returns a promise); else `error`.
   */
  #failed(
    task: ClaimedTask,
    current: ClaimedTask,
    outcome: FailedOutcome,
  ): Settlement | Promise<Settlement> {
    // A remote rate limit: given back for later, no attempt used (docs/flow-control.md).
    if (outcome.thrown instanceof RateLimitedError) {
      return {
        uuid: task.uuid,
        deliveries: task.deliveries,
        status: "release",
        delayMs: outcome.thrown.retryAfterMs,
      };
    }
    const definition = this.#host?.tasks.get(current.taskName);
    const retriesLeft = current.retriesLeft ?? definition?.retry ?? 0;
    if (
      retriesLeft <= 0 || definition === undefined ||
      !isRetryable(definition.retryOn, outcome.error, outcome.thrown)
    ) {
      return {
        uuid: task.uuid,
        deliveries: task.deliveries,
        status: "error",
        error: outcome.error,
      };
    }
    const attempt = current.attempt ?? 1;
    const delayMs = backoffDelay(definition.backoff ?? DEFAULT_BACKOFF, attempt);
    const plugins = this.#plugins;
    if (plugins !== undefined && plugins.listens("worker_task_error_retry")) {
      return this.#failedWithPlugins(plugins, task, current, outcome.error, {
        attempt,
        retriesLeft,
        delayMs,
      });
    }
    return retrySettlement(task, outcome.error, retriesLeft, delayMs);
  }

  /** #failed with worker_task_error_retry, which may cancel the retry or change its delay. */
  async #failedWithPlugins(
    plugins: PluginHub,
    task: ClaimedTask,
    current: ClaimedTask,
    error: TaskErrorInfo,
    plan: { attempt: number; retriesLeft: number; delayMs: number },
  ): Promise<Settlement> {
    let { delayMs } = plan;
    try {
      const decided = await plugins.run("worker_task_error_retry", {
        appName: this.#requireHost().name,
        workerId: this.id,
        taskName: current.taskName,
        uuid: task.uuid,
        error,
        attempt: plan.attempt,
        retriesLeft: plan.retriesLeft,
        delayMs,
        retry: true,
      });
      if (!decided.retry) {
        return { uuid: task.uuid, deliveries: task.deliveries, status: "error", error };
      }
      const replaced = Number(decided.delayMs);
      if (Number.isFinite(replaced) && replaced >= 0) delayMs = Math.ceil(replaced);
    } catch (failed) {
      this.#requireHost().logger.error(
        `Worker ${this.id}: worker_task_error_retry failed (${(failed as Error).message})`,
      );
    }
    return retrySettlement(task, error, plan.retriesLeft, delayMs);
  }

  /**
   * #launch with worker_execute_before (may replace the task), worker_execute_after (hears the
   * outcome) and worker_remove_finished_task (may replace the settlement).
   */
  async #launchWithPlugins(
    plugins: PluginHub,
    task: ClaimedTask,
    entry: RunningTask,
    started: number,
  ): Promise<void> {
    const appName = this.#requireHost().name;
    const workerId = this.id;
    let current = task;
    let settlement: Settlement;
    try {
      if (plugins.listens("worker_execute_before")) {
        current = (await plugins.run("worker_execute_before", { appName, workerId, task })).task;
      }
      if (entry.released) return;
      this.#emitRunning(current);
      const outcome = await this.#run(current, entry);
      if (entry.released) return;
      if (plugins.listens("worker_execute_after")) {
        await plugins.run("worker_execute_after", {
          appName,
          workerId,
          taskName: current.taskName,
          uuid: task.uuid,
          outcome,
        });
      }
      settlement = outcome.status === "error"
        ? await this.#failed(task, current, outcome)
        : { uuid: task.uuid, deliveries: task.deliveries, ...outcome };
      if (entry.released) return;
      if (plugins.listens("worker_remove_finished_task")) {
        settlement = (await plugins.run("worker_remove_finished_task", {
          appName,
          workerId,
          settlement,
        })).settlement;
      }
    } catch (error) {
      settlement = {
        uuid: task.uuid,
        deliveries: task.deliveries,
        status: "error",
        error: describeError(error),
      };
    }
    if (entry.released) return;
    this.#finish(task, current, started, settlement);
  }

  /** taskRunning (only built when listened to). */
  #emitRunning(task: ClaimedTask): void {
    const events = this.#host?.events;
    if (events?.has("taskRunning")) {
      events.emit("taskRunning", {
        ...this.#eventBase(task),
        attempt: task.deliveries,
      });
    }
  }

  /**
   * A running task ended: its events (under `current`, the task as the plugins left it), its slot
   * freed, its settlement queued for the broker (`task` is the one claimed: its identity).
   */
  #finish(
    task: ClaimedTask,
    current: ClaimedTask,
    started: number,
    settlement: Settlement,
  ): void {
    const events = this.#host?.events;
    if (events) this.#emitOutcome(events, current, settlement);
    if (
      (settlement.status === "error" || settlement.status === "retry") &&
      this.#host?.config.logTaskErrors !== false
    ) {
      logFailedRun(this.#host!.logger, {
        taskName: current.taskName,
        uuid: task.uuid,
        attempt: current.attempt ?? 1,
        error: settlement.error,
        retryInMs: settlement.status === "retry" ? settlement.delayMs : undefined,
      });
    }
    if (task.isolated) this.#isolated--;
    this.#running.delete(task.uuid);
    this.#taskMs = average(this.#taskMs, performance.now() - started);
    this.#settlements.push(settlement);
    this.#endTurnSoon();
  }

  #eventBase(task: ClaimedTask) {
    return {
      appName: this.#host?.name ?? "",
      workerId: this.id,
      uuid: task.uuid,
      taskName: task.taskName,
    };
  }

  /** taskStopping, then taskSuccess, taskError or taskCancel (only built when listened to). */
  #emitOutcome(events: AppEvents, task: ClaimedTask, outcome: TaskOutcome | Settlement): void {
    if (outcome.status === "release") return;
    if (events.has("taskStopping")) {
      events.emit("taskStopping", { ...this.#eventBase(task), status: outcome.status });
    }
    if (outcome.status === "success") {
      if (events.has("taskSuccess")) {
        events.emit("taskSuccess", { ...this.#eventBase(task), returning: outcome.returning });
      }
    } else if (outcome.status === "error") {
      if (events.has("taskError")) {
        events.emit("taskError", { ...this.#eventBase(task), error: outcome.error });
      }
    } else if (outcome.status === "cancel" && events.has("taskCancel")) {
      events.emit("taskCancel", { ...this.#eventBase(task), reason: outcome.reason });
    }
  }

  /**
   * At the end of this turn: the completions of the turn go out in one exchange, then the tasks
   * claimed ahead fill the free slots, so that they run while Redis stores the results.
   */
  #endTurnSoon(): void {
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    this.#defer(() => {
      this.#turnScheduled = false;
      this.#kick();
      this.#startAhead();
    });
  }

  /** Starts tasks claimed ahead in the free slots (none while an isolated task runs). */
  #startAhead(): void {
    while (
      this.#ahead.length > 0 && this.#running.size < this.concurrency && this.#isolated === 0 &&
      this.#state === "running"
    ) {
      this.#launch(this.#ahead.shift()!);
    }
  }

  async #run(task: ClaimedTask, entry: RunningTask): Promise<TaskOutcome> {
    const host = this.#requireHost();
    const definition = host.tasks.get(task.taskName);
    if (!definition) {
      const thrown = new UnknownTaskError(task.taskName);
      return { status: "error", error: describeError(thrown), thrown };
    }
    let args: unknown[];
    try {
      args = decodeArgs(task);
    } catch (error) {
      return { status: "error", error: describeError(error), thrown: error };
    }
    const plugins = this.#plugins;
    try {
      if (plugins !== undefined && plugins.listens("worker_run_task_before")) {
        args = (await plugins.run("worker_run_task_before", {
          appName: host.name,
          workerId: this.id,
          taskName: task.taskName,
          uuid: task.uuid,
          args,
        })).args;
      }
      // Arguments from producers that did not validate them: a ValidationError ends the task.
      if (definition.schema !== undefined) {
        args = parseArgs(definition.schema, args, `Cannot run task "${task.taskName}"`);
      }
      const executor = definition.executor ?? this.#executor;
      const run: TaskRun = {
        definition,
        uuid: task.uuid,
        priority: task.priority,
        args,
        deliveries: task.deliveries,
        attempt: task.attempt ?? 1,
        signal: entry.signal,
        whenAborted: (signal, listener) => entry.whenAborted(signal, listener),
        appName: host.name,
        workerId: this.id,
        plugins,
        middlewaresBefore: join(host.middlewaresBefore, definition.middlewaresBefore),
        middlewaresAfter: join(host.middlewaresAfter, definition.middlewaresAfter),
        services: this.#services,
      };
      // A task with dependencies (inject) runs between their opening and closing.
      return await (definition.inject === undefined || executor.opensDependencies === true
        ? executor.execute(run)
        : executeInjected(executor, run));
    } catch (error) {
      return { status: "error", error: describeError(error), thrown: error };
    }
  }

  /** Aborts a running task with a TaskCancelError: it ends as `cancel`. */
  #cancel(uuid: string, reason: string): void {
    for (const waiting of [this.#ahead, this.#adding]) {
      const index = waiting.findIndex((task) => task.uuid === uuid);
      if (index >= 0) {
        const [task] = waiting.splice(index, 1);
        this.#settlements.push({ uuid, deliveries: task.deliveries, status: "cancel", reason });
        this.#endTurnSoon();
        return;
      }
    }
    const task = this.#running.get(uuid);
    if (task && !task.signal.aborted) {
      task.abort(new TaskCancelError(reason));
    }
  }

  /**
   * Whether the lease renewal is overdue (its timer, every leaseMs / 3, was held up for more than
   * another third): then the held leases may have expired, and an exchange would recover them.
   * One clock read; false while nothing is held.
   */
  #renewalOverdue(): boolean {
    if (this.#running.size === 0 && this.#ahead.length === 0 && this.#adding.length === 0) {
      return false;
    }
    const leaseMs = this.#requireHost().config.leaseMs;
    return performance.now() - this.#renewedAt > (2 * leaseMs) / 3;
  }

  /**
   * After a stall, the renewal that must reach the broker before anything else this worker sends
   * (started now when overdue); `undefined` when none is due.
   */
  #leasesFirst(): Promise<void> | undefined {
    if (this.#renewalOverdue()) {
      const renewal = this.#renewLeases();
      this.#afterStall = renewal;
      void renewal.finally(() => {
        if (this.#afterStall === renewal) this.#afterStall = undefined;
      });
    }
    return this.#afterStall;
  }

  /** The event loop was blocked past half a lease: the held tasks may have been recovered. */
  #warnBlocked(blockedMs: number, leaseMs: number): void {
    this.#requireHost().logger.warn(
      `Worker ${this.id}: the event loop was blocked for ${
        Math.round(blockedMs)
      } ms (leaseMs is ${leaseMs}); leases of the tasks it holds may have expired and other workers may run them again. Synchronous CPU-bound work longer than leaseMs belongs in a WorkerPool (its threads keep the event loop free)`,
    );
  }

  async #renewLeases(): Promise<void> {
    this.#renewedAt = performance.now();
    if (this.#running.size === 0 && this.#ahead.length === 0 && this.#adding.length === 0) return;
    const leases = [...this.#running].map(([uuid, task]) => ({
      uuid,
      deliveries: task.deliveries,
    }));
    for (const { uuid, deliveries } of this.#ahead) leases.push({ uuid, deliveries });
    for (const { uuid, deliveries } of this.#adding) leases.push({ uuid, deliveries });
    try {
      const renewal = await this.broker.extendLeases(
        this.id,
        leases,
        this.#requireHost().config.leaseMs,
      );
      for (const uuid of renewal.lost) {
        this.#running.get(uuid)?.abort(new LeaseLostError(uuid));
      }
      if (renewal.lost.length > 0) {
        const lost = new Set(renewal.lost);
        this.#ahead = this.#ahead.filter((task) => !lost.has(task.uuid));
        this.#adding = this.#adding.filter((task) => !lost.has(task.uuid));
      }
      for (const { uuid, reason } of renewal.cancelled) this.#cancel(uuid, reason);
    } catch (error) {
      this.#requireHost().logger.warn(
        `Worker ${this.id}: renewing leases failed (${(error as Error).message})`,
      );
    }
  }
}

const NO_MIDDLEWARES: readonly TaskMiddleware[] = Object.freeze([]);

/** The app-wide middlewares, then the task's own (no new array when one side has none). */
function join(
  appWide: readonly TaskMiddleware[] | undefined,
  own: readonly TaskMiddleware[] | undefined,
): readonly TaskMiddleware[] {
  if (appWide === undefined || appWide.length === 0) return own ?? NO_MIDDLEWARES;
  if (own === undefined || own.length === 0) return appWide;
  return [...appWide, ...own];
}

/** The settlement of a failed attempt that is retried after `delayMs`, as a new record. */
function retrySettlement(
  task: ClaimedTask,
  error: TaskErrorInfo,
  retriesLeft: number,
  delayMs: number,
): Settlement {
  return {
    uuid: task.uuid,
    deliveries: task.deliveries,
    status: "retry",
    error,
    childUuid: newTaskUuid(),
    delayMs,
    retriesLeft,
  };
}

/** A moving average: the first sample sets it. */
function average(previous: number, sample: number): number {
  return previous === 0 ? sample : previous + AVERAGE_WEIGHT * (sample - previous);
}

function decodeArgs(task: ClaimedTask): unknown[] {
  let args: unknown;
  let kwargs: unknown;
  try {
    args = JSON.parse(task.args);
    kwargs = task.kwargs === "{}" || task.kwargs === "" ? undefined : JSON.parse(task.kwargs);
  } catch (cause) {
    throw new InvalidPayloadError(
      `Cannot run task "${task.taskName}": its stored arguments are not valid JSON`,
      { cause },
    );
  }
  if (!Array.isArray(args)) {
    throw new InvalidPayloadError(
      `Cannot run task "${task.taskName}": its stored args are not a JSON array`,
    );
  }
  if (kwargs !== null && typeof kwargs === "object" && Object.keys(kwargs).length > 0) {
    return [...args, kwargs];
  }
  return args;
}

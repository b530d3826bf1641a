/**
 * The TaskExecutor port and what it runs: a registered task ({@linkcode TaskDefinition}, built
 * from its {@linkcode TaskOptions}), one run of it ({@linkcode TaskRun}) and the executor that
 * turns a run into an outcome. One module, because a task's options may name its executor and
 * an executor's run carries the task's definition.
 *
 * @module
 */
import type { TaskMiddleware } from "../plugins/task_middleware.ts";
import type { TaskDependencies } from "../model/depends.ts";
import type { ArgsSchema } from "../model/task_schema.ts";
import type { BackoffOptions } from "../model/retry_policy.ts";
import type { PluginHub } from "../plugins/plugin_hub.ts";
import type { TaskServices } from "./task_context.ts";
import type { TaskOutcome } from "../model/messages.ts";

export type { TaskContext } from "./task_context.ts";

/**
 * A concurrency limit across workers: the task option `concurrency`.
 *
 * @example
 * ```ts
 * import type { ConcurrencyLimit } from "@qtasks/qtasks/ports";
 *
 * const perCustomer: ConcurrencyLimit = { limit: 2, key: (customer: string) => customer };
 * ```
 */
export interface ConcurrencyLimit {
  /** How many of its tasks (of one key, when `key` is given) run at once at most: an integer >= 1. */
  readonly limit: number;
  /**
   * The key the limit counts by, from the call's arguments (called at enqueue): a non-empty
   * string of at most 200 characters.
   */
  readonly key?: (...args: never[]) => string;
}

/**
 * A rate limit across workers: the task option `rateLimit`.
 *
 * @example
 * ```ts
 * import type { RateLimit } from "@qtasks/qtasks/ports";
 *
 * // At most 10 calls per second to each API host.
 * const perHost: RateLimit = { limit: 10, durationMs: 1_000, key: (host: string) => host };
 * ```
 */
export interface RateLimit {
  /** How many of its tasks (of one key, when `key` is given) start per `durationMs` at most: an integer >= 1. */
  readonly limit: number;
  /** The window, in milliseconds: an integer >= 1. */
  readonly durationMs: number;
  /**
   * The key the limit counts by, from the call's arguments (called at enqueue): a non-empty
   * string of at most 200 characters.
   */
  readonly key?: (...args: never[]) => string;
}

/**
 * Deduplication: the task option and call option `deduplication` (see docs/flow-control.md).
 * While the key of an `id` lives (`ttlMs` milliseconds, on the backend's clock), a call of the
 * same task with the same id does not add a second task: its handle follows the first one and
 * says `deduplicated: true`. `throttle` (default): the first call of the window wins, later ones
 * join it. `debounce`: the last call wins: it replaces the arguments, delay and deadline of the
 * waiting (not yet started) task and starts the window again; once that task has started, a call
 * adds a new task.
 *
 * @example
 * ```ts
 * import type { Deduplication } from "@qtasks/qtasks/ports";
 *
 * const onePerMinute: Deduplication = { id: (user: string) => user, ttlMs: 60_000 };
 * const lastEdit: Deduplication = { id: "reindex", ttlMs: 5_000, mode: "debounce" };
 * ```
 */
export interface Deduplication {
  /**
   * The deduplication id, per task name: a non-empty string of at most 1,000 characters, or a
   * function of the call's arguments (called at enqueue) that returns one.
   */
  readonly id: string | ((...args: never[]) => string);
  /** How long the id holds, in milliseconds (> 0), from the call that set it (debounce: the last call). */
  readonly ttlMs: number;
  /** `throttle` (default): the first call wins. `debounce`: the last call wins. */
  readonly mode?: "throttle" | "debounce";
}

/**
 * Options of a task, given to `app.task(options, fn)`.
 *
 * @example
 * ```ts
 * import type { TaskOptions } from "@qtasks/qtasks";
 *
 * const options: TaskOptions = { name: "resize", priority: 5, maxTime: 10_000 };
 * ```
 *
 * @example Retries: up to 3 more attempts for network errors, 0.5 s, 1 s, 2 s apart
 * ```ts
 * import type { TaskOptions } from "@qtasks/qtasks";
 *
 * class NetworkError extends Error {}
 * const options: TaskOptions = {
 *   name: "sync",
 *   retry: 3,
 *   retryOn: [NetworkError, TypeError],
 *   backoff: { type: "exponential", delayMs: 500, maxDelayMs: 10_000 },
 * };
 * ```
 *
 * @example Middlewares and an executor of its own
 * ```ts
 * import type { TaskOptions } from "@qtasks/qtasks";
 * import { AsyncTaskExecutor } from "@qtasks/qtasks/ports";
 *
 * const inner = new AsyncTaskExecutor();
 * const options: TaskOptions = {
 *   name: "report",
 *   middlewaresBefore: [async (call, next) => {
 *     call.args = [...call.args, { requestedBy: "cron" }];
 *     await next();
 *   }],
 *   middlewaresAfter: [(call) => {
 *     call.result = { report: call.result };
 *   }],
 *   executor: { execute: (run) => inner.execute(run) },
 * };
 * ```
 *
 * @example A schema of the arguments, and a handler of generated values
 * ```ts
 * import { z } from "zod";
 * import type { TaskOptions } from "@qtasks/qtasks";
 *
 * const options: TaskOptions = {
 *   name: "thumbnails",
 *   schema: z.tuple([z.array(z.url()), z.number().int().positive()]),
 *   generateHandler: (value) => ({ thumbnail: value }),
 * };
 * ```
 */
export interface TaskOptions {
  /** The name to register under (default: the function's name). */
  name?: string;
  /** Default priority of its tasks: lower runs first (default: `taskDefaultPriority`). */
  priority?: number;
  /**
   * The named queue its tasks go to (default: the `default` queue); only workers that consume it
   * (their `queues` option, `qtasks worker --queues`) claim them. A call's `queue` option wins.
   */
  queue?: string;
  /**
   * At most `limit` of its tasks run at once across every worker, counted per task name, or per
   * `key` when given: a function of the arguments, called at enqueue, whose string is stored on
   * the record (for example one customer's id). A task over its limit waits, parked by the
   * backend until a slot frees (see docs/flow-control.md).
   */
  concurrency?: ConcurrencyLimit;
  /**
   * At most `limit` of its tasks start per `durationMs` across every worker (a sliding window on
   * the backend's clock), counted per task name, or per `key` when given: a function of the
   * arguments, called at enqueue, whose string is stored on the record. A task over its limit
   * waits, parked by the backend until the window has room (see docs/flow-control.md).
   */
  rateLimit?: RateLimit;
  /**
   * The default deduplication of its calls (a call's `deduplication` option wins; `false` turns
   * it off for that call): see {@linkcode Deduplication} and docs/flow-control.md.
   */
  deduplication?: Deduplication;
  /**
   * Time limit of one run in milliseconds; past it the task ends as `error` (TaskTimeoutError).
   * On an {@linkcode AsyncWorker} the limit is cooperative: the run's `signal` aborts, and a
   * function that ignores it keeps running in the background (its result is dropped). On a
   * `WorkerPool` the thread running it is terminated, a hard limit (see docs/flow-control.md).
   */
  maxTime?: number;
  /** Pass a {@linkcode TaskContext} as the first argument. */
  echo?: boolean;
  /** A description, shown by inspection tools. */
  description?: string;
  /**
   * Runs this task instead of the worker's executor (see {@linkcode TaskExecutor}: the task's
   * executor wins over the worker's and the app's).
   */
  executor?: TaskExecutor;
  /** Middlewares that wrap each run, outermost first, inside the app-wide ones. */
  middlewaresBefore?: TaskMiddleware[];
  /** Middlewares run after each successful run, before the result is stored (after app-wide ones). */
  middlewaresAfter?: TaskMiddleware[];
  /** Labels, kept on the definition and shown by inspection tools. */
  tags?: string[];
  /** Extra string fields stored on every record of the task (a call's own `extra` wins). */
  extra?: Record<string, string>;
  /**
   * Dependencies made by `depends(...)`: the function receives their values as one object, its
   * first argument (after the {@linkcode TaskContext} with `echo`).
   */
  inject?: TaskDependencies;
  /**
   * A generator task passes each value it yields through this (sync or async) before it joins
   * the result list.
   */
  generateHandler?: (value: unknown) => unknown;
  /**
   * A schema of the argument list (a zod `z.tuple([...])`, or any Standard Schema of an array):
   * arguments are validated at enqueue (`addTask` rejects with `ValidationError`, nothing is
   * stored) and again before each run (the task ends as `error`); the function receives what
   * the schema outputs. Typed handles take the schema's input types.
   */
  schema?: ArgsSchema;
  /**
   * Extra attempts after a failed run (default 0): a run that ends as `error` is retried as a new
   * task record (see the README, "Retries"), until one succeeds or `retry` retries were used.
   * Never for an `UnrecoverableError`, a cancel, bad stored arguments or a delivery limit.
   */
  retry?: number;
  /**
   * Retry only errors that are instances of one of these classes (subclasses included); by
   * default every error is retried.
   */
  retryOn?: Array<new (...args: never[]) => Error>;
  /** The wait before each retry (default {@linkcode DEFAULT_BACKOFF}: exponential from 1 s). */
  backoff?: BackoffOptions;
}

/**
 * A registered task: its name, options and function, as the worker sees it.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-definition" });
 * app.task("ping", () => "pong");
 * console.log(app.tasks.get("ping")?.priority); // 0
 * ```
 */
export interface TaskDefinition {
  /** The registered name. */
  readonly name: string;
  /** Default priority. */
  readonly priority: number;
  /** Time limit in milliseconds, if any. */
  readonly maxTime: number | undefined;
  /** Its named queue, if any (absent: the default queue). */
  readonly queue?: string;
  /** Its concurrency limit across workers, if any. */
  readonly concurrency?: ConcurrencyLimit;
  /** Its rate limit across workers, if any. */
  readonly rateLimit?: RateLimit;
  /** Its default deduplication, if any. */
  readonly deduplication?: Deduplication;
  /** Whether the function takes a {@linkcode TaskContext} first. */
  readonly echo: boolean;
  /** The description, if any. */
  readonly description: string | undefined;
  /** The function. */
  readonly fn: (...args: never[]) => unknown;
  /** Its own executor, if any (else the worker's). */
  readonly executor?: TaskExecutor;
  /** Its own "before" middlewares (app-wide ones are added around them at run time). */
  readonly middlewaresBefore?: readonly TaskMiddleware[];
  /** Its own "after" middlewares (app-wide ones run first, at run time). */
  readonly middlewaresAfter?: readonly TaskMiddleware[];
  /** Its labels, if any. */
  readonly tags?: readonly string[];
  /** Extra fields stored on each of its records, if any. */
  readonly extra?: Readonly<Record<string, string>>;
  /** Its dependencies, if any (opened by the worker for each run, see `depends`). */
  readonly inject?: Readonly<TaskDependencies>;
  /** What each value a generator task yields goes through, if any. */
  readonly generateHandler?: (value: unknown) => unknown;
  /** The schema of its argument list, if any. */
  readonly schema?: ArgsSchema;
  /** Extra attempts after a failed run (0 or absent: none). */
  readonly retry?: number;
  /** The error classes that are retried (absent: every error). */
  readonly retryOn?: ReadonlyArray<new (...args: never[]) => Error>;
  /** The wait before each retry (absent: {@linkcode DEFAULT_BACKOFF}). */
  readonly backoff?: Readonly<BackoffOptions>;
}

/**
 * One run of a task, as the worker hands it to the executor: the task, its arguments, and what
 * the executor needs to run the pipeline (the app's plugins, and the middlewares to apply).
 *
 * @example
 * ```ts
 * import type { TaskRun } from "@qtasks/qtasks/ports";
 *
 * function label(run: TaskRun): string {
 *   return `${run.appName}/${run.definition.name}(${run.args.length} args) #${run.deliveries}`;
 * }
 * ```
 */
export interface TaskRun {
  /** The registered task. */
  definition: TaskDefinition;
  /** The task's id. */
  uuid: string;
  /** Its priority. */
  priority: number;
  /** Decoded positional arguments (keyword arguments, if any, appended as one object). */
  args: unknown[];
  /** Which delivery this is. */
  deliveries: number;
  /** Which attempt this is: 1, then 2, 3, … on retries (default 1). */
  attempt?: number;
  /** Aborted by the worker on shutdown or a lost lease. */
  signal: AbortSignal;
  /**
   * Hears the abort of `signal` (the run's own, or one a wrapping executor made): calls
   * `listener` once when it aborts, at once when it has; returns a remover. Optional; an
   * {@linkcode AsyncWorker} gives it and, for the run's own signal, keeps the listener in a field
   * instead of adding an event listener to the signal (the default executor hears the abort of
   * every task this way: about 1 µs a task less on Deno and Node).
   */
  whenAborted?(signal: AbortSignal, listener: (reason: unknown) => void): () => void;
  /** The app name. */
  appName: string;
  /** The id of the worker that runs it. */
  workerId: string;
  /** The app's plugins: the executor runs the `task_executor_*` triggers there. */
  plugins?: PluginHub;
  /**
   * The "before" middlewares to wrap the run with, outermost first (app-wide ones, then the
   * task's own); empty when there are none.
   */
  middlewaresBefore: readonly TaskMiddleware[];
  /** The "after" middlewares, run after a successful run (app-wide ones first). */
  middlewaresAfter: readonly TaskMiddleware[];
  /**
   * The worker's broker, the app's config and logger: what the {@linkcode TaskContext} of an
   * `echo` task reads and writes through (one object per worker). Without it, the context's
   * `metadata`, `getTask` and `progress` reject.
   */
  services?: TaskServices;
}

/**
 * The TaskExecutor port: runs one task function and reports how it ended. It must not throw:
 * every failure becomes an `error` outcome. Replace it for one task with the task's `executor`
 * option, or for every task with the app's (`new QueueTasks({ executor })`) or the worker's
 * `executor` option; the task's wins, then the worker's, then the app's, then
 * {@linkcode AsyncTaskExecutor}. An executor that wraps the default one keeps its middlewares
 * and `task_executor_*` triggers.
 *
 * @example An executor that times every task, around the default one
 * ```ts
 * import { AsyncTaskExecutor, type TaskExecutor } from "@qtasks/qtasks/ports";
 *
 * const inner = new AsyncTaskExecutor();
 * const timed: TaskExecutor = {
 *   async execute(run) {
 *     const started = performance.now();
 *     const outcome = await inner.execute(run);
 *     console.log(run.definition.name, performance.now() - started);
 *     return outcome;
 *   },
 * };
 * ```
 */
export interface TaskExecutor {
  /** Runs the task; never rejects. */
  execute(run: TaskRun): Promise<TaskOutcome>;
  /**
   * `true` when it opens the dependencies of a task with `inject` itself (a
   * {@linkcode ThreadPool} does, in its thread): the worker then hands it such a task as it is.
   * Otherwise (default) the worker opens them and hands it a definition whose function receives
   * them.
   */
  readonly opensDependencies?: boolean;
}

export type { TaskOutcome } from "../model/messages.ts";

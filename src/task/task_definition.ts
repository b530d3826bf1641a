import type { TaskExecutor } from "../executor/task_executor.ts";
import type { TaskMiddleware } from "../executor/task_middleware.ts";
import type { TaskDependencies } from "./depends.ts";
import type { ArgsSchema } from "./task_schema.ts";
import type { BackoffOptions } from "./retry_policy.ts";

export type { TaskContext } from "./task_context.ts";

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
 * import { AsyncTaskExecutor, type TaskOptions } from "@qtasks/qtasks";
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
  /** Time limit of one run in milliseconds; past it the task ends as `error` (TaskTimeoutError). */
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

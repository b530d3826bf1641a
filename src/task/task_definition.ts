import type { TaskExecutor } from "../executor/task_executor.ts";
import type { TaskMiddleware } from "../executor/task_middleware.ts";
import type { TaskDependencies } from "./depends.ts";

/**
 * What a task function receives as its first argument when it is registered with `echo: true`.
 *
 * @example
 * ```ts
 * import { QueueTasks, type TaskContext } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-context" });
 * app.task({ name: "download", echo: true, maxTime: 5_000 }, async (ctx: TaskContext, url: string) => {
 *   const response = await fetch(url, { signal: ctx.signal });
 *   return { status: response.status, attempt: ctx.attempt };
 * });
 * ```
 */
export interface TaskContext {
  /** The registered task name. */
  readonly taskName: string;
  /** The id of this task. */
  readonly taskUuid: string;
  /** Its priority. */
  readonly priority: number;
  /** Which delivery this is (1 on the first run; higher after a worker died). */
  readonly attempt: number;
  /** Aborts when maxTime is exceeded, the worker shuts down, or the lease is lost. */
  readonly signal: AbortSignal;
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
}

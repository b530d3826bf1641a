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
}

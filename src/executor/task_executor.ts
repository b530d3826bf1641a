import type { PluginHub } from "../plugins/plugin_hub.ts";
import type { TaskServices } from "../task/task_context.ts";
import type { TaskDefinition } from "../task/task_definition.ts";
import type { TaskErrorInfo } from "../task/task_record.ts";
import type { TaskMiddleware } from "./task_middleware.ts";

/**
 * One run of a task, as the worker hands it to the executor: the task, its arguments, and what
 * the executor needs to run the pipeline (the app's plugins, and the middlewares to apply).
 *
 * @example
 * ```ts
 * import type { TaskRun } from "@qtasks/qtasks";
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
 * How a run ended. `returning` is already JSON text.
 *
 * @example
 * ```ts
 * import type { TaskOutcome } from "@qtasks/qtasks";
 *
 * const outcome: TaskOutcome = { status: "success", returning: "42" };
 * ```
 */
export type TaskOutcome =
  | { status: "success"; returning: string }
  | {
    status: "error";
    error: TaskErrorInfo;
    /** What was thrown, when known: the worker matches it against the task's `retryOn`. */
    thrown?: unknown;
  }
  | { status: "cancel"; reason: string };

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
 * import { AsyncTaskExecutor, type TaskExecutor } from "@qtasks/qtasks";
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

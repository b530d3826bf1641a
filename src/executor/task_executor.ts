import type { TaskDefinition } from "../task/task_definition.ts";
import type { TaskErrorInfo } from "../task/task_record.ts";

/**
 * One run of a task, as the worker hands it to the executor.
 *
 * @example
 * ```ts
 * import type { TaskRun } from "@qtasks/qtasks";
 *
 * function label(run: TaskRun): string {
 *   return `${run.definition.name}(${run.args.length} args) #${run.deliveries}`;
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
  /** Aborted by the worker on shutdown or a lost lease. */
  signal: AbortSignal;
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
  | { status: "error"; error: TaskErrorInfo }
  | { status: "cancel"; reason: string };

/**
 * The TaskExecutor port: runs one task function and reports how it ended. It must not throw:
 * every failure becomes an `error` outcome. Replace it app-wide with the worker's `executor`
 * option.
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
}

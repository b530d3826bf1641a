import { QTasksError } from "./qtasks_error.ts";

/**
 * The error a task ends with when it runs longer than its `maxTime`.
 *
 * The task's `AbortSignal` is aborted with this error as its reason, and the task record gets
 * status `error` with type `TaskTimeoutError`.
 *
 * @example
 * ```ts
 * import { TaskTimeoutError } from "@qtasks/qtasks";
 *
 * const error = new TaskTimeoutError("resize", 1000);
 * console.log(error.code); // "TASK_TIMEOUT"
 * ```
 */
export class TaskTimeoutError extends QTasksError {
  /**
   * Creates the error.
   *
   * @param taskName The task that ran too long.
   * @param maxTimeMs Its time limit in milliseconds.
   */
  constructor(taskName: string, maxTimeMs: number) {
    super("TASK_TIMEOUT", `Task "${taskName}" exceeded its maxTime of ${maxTimeMs} ms`);
    this.name = "TaskTimeoutError";
  }
}

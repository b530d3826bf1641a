import { QTasksError } from "./qtasks_error.ts";

/**
 * Ends a task with status `cancel`. The worker aborts a running task's signal with it when
 * `app.cancel(uuid)` is called; a task may also throw it itself.
 *
 * @example
 * ```ts
 * import { TaskCancelError } from "@qtasks/qtasks";
 *
 * const error = new TaskCancelError("the order was withdrawn");
 * console.log(error.code, error.reason); // "TASK_CANCEL" "the order was withdrawn"
 * ```
 */
export class TaskCancelError extends QTasksError {
  /** Why the task was cancelled (stored as `cancel_reason`). */
  readonly reason: string;

  /**
   * Creates the error.
   *
   * @param reason Why the task is cancelled.
   */
  constructor(reason = "") {
    super("TASK_CANCEL", reason ? `Task cancelled: ${reason}` : "Task cancelled");
    this.name = "TaskCancelError";
    this.reason = reason;
  }
}

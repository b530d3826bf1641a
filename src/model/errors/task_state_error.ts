import { QTasksError } from "./qtasks_error.ts";

/**
 * An operation does not apply to a task in its current status: retrying a task that did not
 * fail (queued, scheduled, running, succeeded or already retried), deleting a running one. The
 * task is left as it was.
 *
 * @example
 * ```ts
 * import { TaskStateError } from "@qtasks/qtasks";
 *
 * const error = new TaskStateError("retry", "0b6c…", "running");
 * console.log(error.code); // "TASK_STATE"
 * console.log(error.message); // 'Cannot retry task 0b6c…: its status is running (only a failed or cancelled task can be retried)'
 * ```
 */
export class TaskStateError extends QTasksError {
  /** The task. */
  readonly uuid: string;
  /** Its status when the operation was refused. */
  readonly status: string;

  /**
   * Creates the error.
   *
   * @param action `retry` or `delete`.
   * @param uuid The task.
   * @param status Its status (a query status: `queued`, `running`, …).
   */
  constructor(action: "retry" | "delete", uuid: string, status: string) {
    const rule = action === "retry"
      ? "only a failed or cancelled task can be retried"
      : "a running task cannot be deleted; cancel it first";
    super("TASK_STATE", `Cannot ${action} task ${uuid}: its status is ${status} (${rule})`);
    this.name = "TaskStateError";
    this.uuid = uuid;
    this.status = status;
  }
}

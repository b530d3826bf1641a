import { QTasksError } from "./qtasks_error.ts";
import type { TaskRecord } from "../task_record.ts";

/**
 * Raised by {@linkcode AsyncResult.value} when the task ended as `error` or `cancel`.
 *
 * The full record, including the stored error type, message and stack, is on
 * {@linkcode TaskFailedError.record}.
 *
 * @example
 * ```ts
 * import { QueueTasks, TaskFailedError } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-failed" });
 * const boom = app.task("boom", () => {
 *   throw new RangeError("no");
 * });
 * await app.start();
 * try {
 *   await (await boom.addTask()).value();
 * } catch (error) {
 *   if (error instanceof TaskFailedError) console.log(error.record.error?.type); // "RangeError"
 * }
 * await app.stop();
 * ```
 */
export class TaskFailedError extends QTasksError {
  /** The final record of the task. */
  readonly record: TaskRecord;

  /**
   * Creates the error.
   *
   * @param record The final record, with status `error` or `cancel`.
   */
  constructor(record: TaskRecord) {
    const detail = record.error
      ? `${record.error.type}: ${record.error.message}`
      : record.cancelReason ?? "no reason given";
    super(
      "TASK_FAILED",
      `Task "${record.taskName}" (${record.uuid}) ended with status ${record.status}: ${detail}`,
    );
    this.name = "TaskFailedError";
    this.record = record;
  }
}

import { QTasksError } from "./qtasks_error.ts";

/**
 * A task was not started by its deadline (`expiresAt` / `expiresInMs`): the claim that found it
 * late ended it as `cancel` instead of running it.
 *
 * The backends record it on the task: status `cancel`, `cancel_reason` `expired`, and the error
 * fields `error_type` `TaskExpiredError`, `error_code` `TASK_EXPIRED` and this message, so
 * `record.error?.code` names it (and `result()` rejects with a `TaskFailedError` that carries
 * the record). It is never retried.
 *
 * @example Recognise an expired task
 * ```ts
 * import { TaskExpiredError } from "@qtasks/qtasks/ports";
 *
 * const error = new TaskExpiredError();
 * console.log(error.name, error.code); // "TaskExpiredError" "TASK_EXPIRED"
 * ```
 */
export class TaskExpiredError extends QTasksError {
  /** Creates the error. */
  constructor() {
    super("TASK_EXPIRED", TASK_EXPIRED_MESSAGE);
    this.name = "TaskExpiredError";
  }
}

/**
 * The message of a {@linkcode TaskExpiredError}, shared with the Redis claim (Lua).
 *
 * @example
 * ```ts
 * import { TASK_EXPIRED_MESSAGE } from "./task_expired_error.ts";
 *
 * console.log(TASK_EXPIRED_MESSAGE.startsWith("Task was not started by its deadline")); // true
 * ```
 */
export const TASK_EXPIRED_MESSAGE =
  "Task was not started by its deadline (expiresAt / expiresInMs): cancelled instead of running late";

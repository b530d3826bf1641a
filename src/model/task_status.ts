/**
 * The statuses a task record can have.
 *
 * - `new`: stored and queued, waiting for a worker.
 * - `process`: claimed by a worker that holds its lease.
 * - `success`, `error`, `cancel`: final (see `resultStatusesEnd` in the config).
 * - `retry`: an attempt failed and a retry was scheduled (set by the retry feature).
 *
 * @example
 * ```ts
 * import { TASK_STATUSES, type TaskStatus } from "@qtasks/qtasks";
 *
 * const status: TaskStatus = "success";
 * console.log(TASK_STATUSES.includes(status)); // true
 * ```
 */
export type TaskStatus = "new" | "process" | "success" | "error" | "cancel" | "retry";

/**
 * Every {@linkcode TaskStatus}, in lifecycle order.
 *
 * @example
 * ```ts
 * import { TASK_STATUSES } from "@qtasks/qtasks";
 *
 * console.log(TASK_STATUSES.length); // 6
 * ```
 */
export const TASK_STATUSES: readonly TaskStatus[] = Object.freeze([
  "new",
  "process",
  "success",
  "error",
  "cancel",
  "retry",
]);

/**
 * Checks whether a string is a {@linkcode TaskStatus}.
 *
 * @param value Any string.
 * @returns `true` if it names a status.
 *
 * @example
 * ```ts
 * import { isTaskStatus } from "./task_status.ts";
 *
 * console.log(isTaskStatus("process")); // true
 * console.log(isTaskStatus("done")); // false
 * ```
 */
export function isTaskStatus(value: string): value is TaskStatus {
  return (TASK_STATUSES as readonly string[]).includes(value);
}

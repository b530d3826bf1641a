import { QTasksError } from "./qtasks_error.ts";

/**
 * Raised by {@linkcode AsyncResult.result} (and `value`) at once when no record exists under the
 * awaited uuid: a uuid that was never enqueued here (another app, another database, a typo), or a
 * record that expired (`resultTtlMs`) or was deleted. Waiting could never succeed, so it does not.
 *
 * @example
 * ```ts
 * import { QueueTasks, TaskNotFoundError } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-not-found" });
 * try {
 *   await app.result("00000000-0000-4000-8000-000000000000").result({ timeoutMs: 5_000 });
 * } catch (error) {
 *   if (error instanceof TaskNotFoundError) console.log(error.code); // "TASK_NOT_FOUND"
 * }
 * await app.stop();
 * ```
 */
export class TaskNotFoundError extends QTasksError {
  /** The uuid that has no record. */
  readonly uuid: string;

  /**
   * Creates the error.
   *
   * @param uuid The awaited uuid.
   * @param appName The app whose storage was read.
   */
  constructor(uuid: string, appName?: string) {
    super(
      "TASK_NOT_FOUND",
      `Cannot get the result of task ${uuid}: no record has this uuid${
        appName ? ` in app "${appName}"` : ""
      } (never enqueued there, or expired or deleted)`,
    );
    this.name = "TaskNotFoundError";
    this.uuid = uuid;
  }
}

import { QTasksError } from "./qtasks_error.ts";

/**
 * A task was enqueued under a name that the worker running it has not registered; or, at
 * enqueue, an app that has tasks registered was asked for a name it does not know (then nothing
 * is stored, and the message suggests the closest registered name); or a Timer was asked to
 * schedule an unregistered task.
 *
 * On a worker, the task ends as `error` with this type; the worker goes on serving other tasks.
 *
 * @example
 * ```ts
 * import { UnknownTaskError } from "@qtasks/qtasks";
 *
 * console.log(new UnknownTaskError("missing").message);
 * ```
 */
export class UnknownTaskError extends QTasksError {
  /** The name that was not found. */
  readonly taskName: string;

  /**
   * Creates the error.
   *
   * @param taskName The name that no task is registered under.
   * @param message The message, when not the worker's `Cannot run task "x": …`.
   */
  constructor(taskName: string, message?: string) {
    super(
      "UNKNOWN_TASK",
      message ?? `Cannot run task "${taskName}": no task is registered under that name`,
    );
    this.name = "UnknownTaskError";
    this.taskName = taskName;
  }
}

import { QTasksError } from "./qtasks_error.ts";

/**
 * A task was enqueued under a name that the worker running it has not registered.
 *
 * The task ends as `error` with this type; the worker goes on serving other tasks.
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
   */
  constructor(taskName: string) {
    super("UNKNOWN_TASK", `Cannot run task "${taskName}": no task is registered under that name`);
    this.name = "UnknownTaskError";
    this.taskName = taskName;
  }
}

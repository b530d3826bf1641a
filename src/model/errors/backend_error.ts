import { QTasksError } from "./qtasks_error.ts";

/**
 * The backend (Redis) could not be reached or failed a command.
 *
 * Messages name the server by its redacted URL: passwords never appear.
 *
 * @example
 * ```ts
 * import { BackendError } from "@qtasks/qtasks";
 *
 * const error = new BackendError("Cannot reach Redis at redis://***@db:6379");
 * console.log(error.code); // "BACKEND_UNAVAILABLE"
 * ```
 */
export class BackendError extends QTasksError {
  /**
   * For a failed `addTask`: the uuid of the task, which may have been stored all the same (the
   * reply was lost). Add it again with `{ uuid }` to be sure, without creating a second task.
   */
  readonly uuid: string | undefined;

  /**
   * Creates the error.
   *
   * @param message What failed, with the redacted URL.
   * @param options Standard error options (`cause`) and the task's `uuid`.
   */
  constructor(message: string, options?: ErrorOptions & { uuid?: string }) {
    super("BACKEND_UNAVAILABLE", message, options);
    this.name = "BackendError";
    this.uuid = options?.uuid;
  }
}

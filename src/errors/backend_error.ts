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
   * @param message What failed, with the redacted URL.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super("BACKEND_UNAVAILABLE", message, options);
    this.name = "BackendError";
  }
}

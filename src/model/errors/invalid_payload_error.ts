import { QTasksError } from "./qtasks_error.ts";

/**
 * Task arguments or a task result cannot be stored as JSON, or a stored payload cannot be read.
 *
 * At enqueue the task is rejected and nothing is stored. At execution the task ends as `error`
 * with this type.
 *
 * @example
 * ```ts
 * import { InvalidPayloadError } from "@qtasks/qtasks";
 *
 * const error = new InvalidPayloadError('Cannot add task "x": its arguments are not JSON');
 * console.log(error.code); // "INVALID_PAYLOAD"
 * ```
 */
export class InvalidPayloadError extends QTasksError {
  /**
   * Creates the error.
   *
   * @param message What could not be encoded or decoded.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super("INVALID_PAYLOAD", message, options);
    this.name = "InvalidPayloadError";
  }
}

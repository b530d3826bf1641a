/**
 * Base class of every error that QTasks raises for a condition a caller may catch.
 *
 * Each subclass has a stable {@linkcode QTasksError.code} to switch on; messages are for people
 * and may change between versions.
 *
 * @example Catch any QTasks error and switch on its code
 * ```ts
 * import { QTasksError } from "@qtasks/qtasks";
 *
 * try {
 *   throw new QTasksError("EXAMPLE", "Something went wrong");
 * } catch (error) {
 *   if (error instanceof QTasksError) console.log(error.code); // "EXAMPLE"
 * }
 * ```
 */
export class QTasksError extends Error {
  /** A stable, machine-readable identifier of the condition. */
  readonly code: string;

  /**
   * Creates an error with a code and a message.
   *
   * @param code Stable identifier, such as `"RESULT_TIMEOUT"`.
   * @param message Human-readable description.
   * @param options Standard error options (`cause`).
   */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "QTasksError";
    this.code = code;
  }
}

import { QTasksError } from "./qtasks_error.ts";

/**
 * Thrown by a task to end it as `error` at once, without using any of its retries: for failures
 * that another attempt cannot fix (a malformed order, a refused card). The record stores the
 * error's type `UnrecoverableError` and code `UNRECOVERABLE`. Subclass it for errors of your
 * own that must never be retried.
 *
 * @example
 * ```ts
 * import { QueueTasks, UnrecoverableError } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-unrecoverable" });
 * const charge = app.task({ name: "charge", retry: 3 }, (cents: number) => {
 *   if (cents <= 0) throw new UnrecoverableError(`Cannot charge ${cents} cents`);
 *   return { charged: cents };
 * });
 * await app.start();
 * const record = await (await charge.addTask(-5)).result();
 * console.log(record.status, record.error?.code, record.retryChildUuid); // "error" "UNRECOVERABLE" undefined
 * await app.stop();
 * ```
 */
export class UnrecoverableError extends QTasksError {
  /**
   * Creates the error.
   *
   * @param message What went wrong.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super("UNRECOVERABLE", message, options);
    this.name = "UnrecoverableError";
  }
}

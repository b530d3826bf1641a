import { QTasksError } from "./qtasks_error.ts";

/**
 * The worker (or its thread pool) is shutting down and stops a task that has not finished.
 *
 * A task still running when the shutdown grace period ends has its `AbortSignal` aborted with
 * this error as its reason, and is given back to the queue unchanged (it runs again later); a
 * task queued in a closing thread pool ends with it.
 *
 * @example Tell a shutdown from other aborts
 * ```ts
 * import { WorkerShutdownError } from "@qtasks/qtasks";
 *
 * const controller = new AbortController();
 * controller.abort(new WorkerShutdownError());
 * if (controller.signal.reason instanceof WorkerShutdownError) {
 *   console.log(controller.signal.reason.code); // "WORKER_SHUTDOWN"
 * }
 * ```
 */
export class WorkerShutdownError extends QTasksError {
  /**
   * Creates the error.
   *
   * @param message What stopped (default `"The worker is shutting down"`).
   * @param options Standard error options (`cause`).
   */
  constructor(message: string = "The worker is shutting down", options?: ErrorOptions) {
    super("WORKER_SHUTDOWN", message, options);
    this.name = "WorkerShutdownError";
  }
}

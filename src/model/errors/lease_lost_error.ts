import { QTasksError } from "./qtasks_error.ts";

/**
 * The worker lost its lease on a running task: the lease expired before it was renewed (the
 * worker was stalled or cut off from the broker), so the task may be recovered and run again by
 * another worker.
 *
 * The task's `AbortSignal` is aborted with this error as its reason. Its settlement would be
 * refused by the broker anyway (the worker no longer owns the task), so nothing is stored for
 * this delivery.
 *
 * @example Tell a lost lease from other aborts
 * ```ts
 * import { LeaseLostError } from "@qtasks/qtasks";
 *
 * const controller = new AbortController();
 * controller.abort(new LeaseLostError("0b5c…"));
 * if (controller.signal.reason instanceof LeaseLostError) {
 *   console.log(controller.signal.reason.code); // "LEASE_LOST"
 * }
 * ```
 */
export class LeaseLostError extends QTasksError {
  /** The task whose lease was lost. */
  readonly uuid: string;

  /**
   * Creates the error.
   *
   * @param uuid The task whose lease the worker lost.
   */
  constructor(uuid: string) {
    super(
      "LEASE_LOST",
      `The worker lost its lease on task ${uuid}: another worker may run it`,
    );
    this.name = "LeaseLostError";
    this.uuid = uuid;
  }
}

import { QTasksError } from "./qtasks_error.ts";

/**
 * Raised by {@linkcode AsyncResult.result} when a task does not reach a final status in time.
 *
 * The task itself is not affected: it keeps running, and its result can be awaited again.
 *
 * @example
 * ```ts
 * import { QueueTasks, ResultTimeoutError } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-timeout" });
 * const slow = app.task("slow", () => new Promise((resolve) => setTimeout(resolve, 50)));
 * const job = await slow.addTask();
 * try {
 *   await job.result({ timeoutMs: 1 });
 * } catch (error) {
 *   if (error instanceof ResultTimeoutError) console.log(error.uuid, error.lastStatus);
 * }
 * await app.stop();
 * ```
 */
export class ResultTimeoutError extends QTasksError {
  /** The task that was awaited. */
  readonly uuid: string;
  /** The status the task had when the wait gave up, or `undefined` if no record was found. */
  readonly lastStatus: string | undefined;
  /**
   * `true` when no worker of the app had a live heartbeat when the wait gave up (so nothing was
   * there to run the task); `false` when one had; `undefined` when it could not be told.
   */
  readonly workerRunning: boolean | undefined;

  /**
   * Creates the error.
   *
   * @param uuid The awaited task.
   * @param timeoutMs How long the caller waited.
   * @param lastStatus The status seen last.
   * @param options Whether a worker of the app was running (`workerRunning`), and the app's name.
   */
  constructor(
    uuid: string,
    timeoutMs: number,
    lastStatus: string | undefined,
    options: { workerRunning?: boolean; appName?: string } = {},
  ) {
    const noWorker = options.workerRunning === false
      ? `; no worker of app "${
        options.appName ?? "?"
      }" is running (no live heartbeat): start one with app.runForever() or qtasks worker`
      : "";
    super(
      "RESULT_TIMEOUT",
      `Cannot get the result of task ${uuid}: it did not finish within ${timeoutMs} ms (status: ${
        lastStatus ?? "not found"
      })${noWorker}`,
    );
    this.name = "ResultTimeoutError";
    this.uuid = uuid;
    this.lastStatus = lastStatus;
    this.workerRunning = options.workerRunning;
  }
}

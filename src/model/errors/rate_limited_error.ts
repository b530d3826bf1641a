import { QTasksError } from "./qtasks_error.ts";

/**
 * Thrown by a task that hit a remote rate limit (an HTTP 429 with `Retry-After`, a quota): the
 * worker gives the task back to the backend, which makes it claimable again `retryAfterMs` later.
 * It is not a failure: the record is not ended, no retry attempt is used (its `attempt` and
 * retries left stay as they were), and meanwhile it is listed as scheduled (status `new`, with
 * `runAt`). Its code is `RATE_LIMITED`.
 *
 * A task that keeps throwing it keeps being deferred: bound it yourself (for example with a
 * deadline, `expiresInMs`, or by counting in the arguments) when the remote side may never
 * recover.
 *
 * @example Defer a task for as long as the server asks
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { RateLimitedError } from "@qtasks/qtasks/ports";
 *
 * const app = new QueueTasks({ name: "docs-rate-limited-error" });
 * let calls = 0;
 * const fetchPage = app.task("fetchPage", (url: string) => {
 *   // A remote API answering 429 with "Retry-After: 0.05" the first time.
 *   if (++calls === 1) throw new RateLimitedError(50);
 *   return `${url}: 200`;
 * });
 * await app.start();
 * const page = await fetchPage.addTask("https://example.org");
 * console.log(await page.value()); // "https://example.org: 200"
 * console.log((await page.get())?.attempt); // 1
 * await app.stop();
 * ```
 */
export class RateLimitedError extends QTasksError {
  /** How long to wait before the task runs again, in milliseconds (an integer >= 0). */
  readonly retryAfterMs: number;

  /**
   * Creates the error.
   *
   * @param retryAfterMs How long the remote side asked to wait, in milliseconds: a finite
   *   number >= 0 (rounded up to a whole millisecond).
   * @param message What was limited (default: a message naming the delay).
   * @param options Standard error options (`cause`).
   * @throws {TypeError} When `retryAfterMs` is not a finite number >= 0.
   */
  constructor(retryAfterMs: number, message?: string, options?: ErrorOptions) {
    if (typeof retryAfterMs !== "number" || !Number.isFinite(retryAfterMs) || retryAfterMs < 0) {
      throw new TypeError(
        `RateLimitedError: retryAfterMs must be a finite number >= 0, got ${String(retryAfterMs)}`,
      );
    }
    const ms = Math.ceil(retryAfterMs);
    super("RATE_LIMITED", message ?? `Rate limited: run again in ${ms} ms`, options);
    this.name = "RateLimitedError";
    this.retryAfterMs = ms;
  }
}

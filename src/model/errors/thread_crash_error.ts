import { QTasksError } from "./qtasks_error.ts";

/**
 * The error a task ends with when the pool thread running it died: an uncaught exception or an
 * exit in the thread, a module that threw while the thread loaded it, or a thread terminated
 * because another task on it ignored its signal past its `maxTime`. The pool replaces the thread;
 * the task is retried by its retry policy like any failure (`retry`, `retryOn` by the type
 * `ThreadCrashError`).
 *
 * @example
 * ```ts
 * import { ThreadCrashError } from "@qtasks/qtasks";
 *
 * const error = new ThreadCrashError('Task "hash" was lost: its thread exited');
 * console.log(error.code); // "THREAD_CRASHED"
 * ```
 */
export class ThreadCrashError extends QTasksError {
  /**
   * Creates the error.
   *
   * @param message What happened to the thread.
   * @param options Standard error options (`cause`: the thread's error, when there was one).
   */
  constructor(message: string, options?: ErrorOptions) {
    super("THREAD_CRASHED", message, options);
    this.name = "ThreadCrashError";
  }
}

/** Set on the global object of a pool thread (a registered symbol: shared by copies of QTasks). */
const FLAG: unique symbol = Symbol.for("qtasks.poolThread") as never;

/**
 * Whether this code runs inside a thread of a {@linkcode ThreadPool} (or {@linkcode WorkerPool}).
 * There the module that registers the tasks is imported only for its registrations:
 * `app.start()`, `app.stop()` and `app.runForever()` do nothing, and a pool cannot be started.
 * Use it to skip other work a module does when it runs as the main program.
 *
 * @returns `true` inside a pool thread.
 *
 * @example
 * ```ts
 * import { isPoolThread } from "@qtasks/qtasks";
 *
 * if (!isPoolThread()) console.log("main thread: connect, serve, …");
 * ```
 */
export function isPoolThread(): boolean {
  return (globalThis as Record<symbol, unknown>)[FLAG] === true;
}

/**
 * Marks this thread as a pool thread (called by the thread entry before it imports the task
 * module).
 *
 * @example
 * ```ts ignore
 * import { markPoolThread } from "./pool_thread_flag.ts";
 *
 * markPoolThread(); // only in pool_thread.ts
 * ```
 */
export function markPoolThread(): void {
  (globalThis as Record<symbol, unknown>)[FLAG] = true;
}

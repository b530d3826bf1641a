import type { BindableTaskHandle } from "./detached_task.ts";

/**
 * The handle of a shared task (see {@linkcode sharedTask}).
 *
 * @typeParam A The function's parameters (without the context and the dependencies).
 * @typeParam R The function's awaited return type.
 *
 * @example
 * ```ts
 * import { QueueTasks, sharedTask, type SharedTaskHandle } from "@qtasks/qtasks";
 *
 * const ping: SharedTaskHandle<[], string> = sharedTask("docs-shared-handle-ping", () => "pong");
 * const app = new QueueTasks({ name: "docs-shared-handle" }); // picks it up
 * console.log(app.tasks.has("docs-shared-handle-ping")); // true
 * ping.unshare(); // apps created from now on do not pick it up
 * ```
 */
export interface SharedTaskHandle<A extends unknown[], R> extends BindableTaskHandle<A, R> {
  /**
   * Takes it out of the process-wide registry: apps created or started from now on do not pick it
   * up (apps that did keep it).
   */
  unshare(): void;
}

import type { TaskDefinition, TaskOptions } from "../ports/task_executor.ts";
import type { TaskHandle } from "./task_handle.ts";

/**
 * What a router, a shared task or a detached handle needs of an app: its name, its tasks, and a
 * way to register one. {@linkcode QueueTasks} is one; declaring it here keeps those modules from
 * importing the app (which imports them).
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import type { AppLike } from "@qtasks/qtasks/ports";
 *
 * const app: AppLike = new QueueTasks({ name: "docs-app-like" });
 * app.task({ name: "ping" }, () => "pong");
 * console.log(app.name, app.tasks.has("ping")); // docs-app-like true
 * ```
 */
export interface AppLike {
  /** The app name. */
  readonly name: string;
  /** The registered tasks by name. */
  readonly tasks: ReadonlyMap<string, TaskDefinition>;
  /** Registers a task function (as `app.task(options, fn)`) and returns its handle. */
  task(options: TaskOptions, fn: (...args: never[]) => unknown): TaskHandle<unknown[], unknown>;
}

import type { TaskRegistrar } from "./task_registrar.ts";
import { detachedHandle, DetachedTask } from "./detached_task.ts";
import type { SharedTaskHandle } from "./shared_task_handle.ts";
import type { AppLike } from "./app_like.ts";

// Declared in its own module (task_registrar.ts needs it); re-exported where it was first declared.
export type { SharedTaskHandle } from "./shared_task_handle.ts";

/** The shared tasks of this process, by name. */
const registry = new Map<string, DetachedTask>();

/**
 * Defines a shared task (QTasks `shared_task`): a task registered without an app, in a
 * process-wide registry, for libraries and modules that must not import the app. Every
 * {@linkcode QueueTasks} picks up the shared tasks when it is created, and those defined since when
 * it starts. It takes the forms and every option of `app.task`, `maxTime` included.
 *
 * Its handle enqueues through the app that picked it up. When none has, `addTask` rejects; when
 * several have (two apps in one process), choose one with `bindTo(app)`, which also picks the
 * task up on an app that has not.
 *
 * @throws {TypeError} On a missing function or name, a bad or unknown option, or a name a shared
 * task has already.
 * @throws {RangeError} On a priority or maxTime that is not an integer (maxTime > 0).
 *
 * @example
 * ```ts
 * import { QueueTasks, sharedTask } from "@qtasks/qtasks";
 *
 * // thumbnails.ts: no app import
 * const thumbnail = sharedTask(
 *   { name: "docs-shared-thumbnail", maxTime: 5_000 },
 *   (url: string, width: number) => `${url}?w=${width}`,
 * );
 *
 * // app.ts
 * const app = new QueueTasks({ name: "docs-shared" }); // picks up the shared tasks
 * await app.start();
 * console.log(await (await thumbnail.addTask("/a.png", 64)).value()); // "/a.png?w=64"
 * await app.stop();
 * thumbnail.unshare();
 * ```
 */
export const sharedTask: TaskRegistrar<"shared"> = ((
  first: unknown,
  second?: unknown,
): SharedTaskHandle<unknown[], unknown> => {
  const task = DetachedTask.parse(first, second);
  if (registry.has(task.name)) {
    throw new TypeError(
      `Cannot register task "${task.name}": a shared task is already registered under that name`,
    );
  }
  registry.set(task.name, task);
  const handle = detachedHandle(
    task,
    {},
    "no app has picked up this shared task (create a QueueTasks, or call bindTo(app))",
    (app) => task.handleIn(app) ?? task.register(app),
  );
  return Object.assign(handle, {
    unshare(): void {
      if (registry.get(task.name) === task) registry.delete(task.name);
    },
  });
}) as TaskRegistrar<"shared">;

/**
 * Registers on `app` the shared tasks it has not registered yet: all or none.
 *
 * @param app The app (when it is created, and when it starts).
 * @throws {TypeError} When `app` has a task of the same name as a shared task it has not picked up.
 *
 * @example
 * ```ts
 * import { QueueTasks, sharedTask } from "@qtasks/qtasks";
 * import { pickUpSharedTasks } from "./shared_task.ts";
 *
 * const app = new QueueTasks({ name: "docs-pick-up" });
 * const late = sharedTask("docs-pick-up-late", () => 1); // defined after the app
 * pickUpSharedTasks(app); // what app.start() does first
 * console.log(app.tasks.has("docs-pick-up-late")); // true
 * late.unshare();
 * ```
 */
export function pickUpSharedTasks(app: AppLike): void {
  if (registry.size === 0) return;
  const missing = [...registry.values()].filter((task) => !task.registeredIn(app));
  for (const task of missing) {
    if (app.tasks.has(task.name)) {
      throw new TypeError(
        `Cannot register task "${task.name}": a task is already registered under that name`,
      );
    }
  }
  for (const task of missing) task.register(app);
}

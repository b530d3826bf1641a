import type { TaskDefinition } from "../ports/task_executor.ts";
import type { TaskRegistrar } from "./task_registrar.ts";
import { type BindableTaskHandle, detachedHandle, DetachedTask } from "./detached_task.ts";
import type { AppLike } from "./app_like.ts";

interface RouterState {
  tasks: Map<string, DetachedTask>;
  apps: WeakRef<AppLike>[];
}

const states = new WeakMap<Router, RouterState>();

function liveApps(state: RouterState): AppLike[] {
  const apps: AppLike[] = [];
  state.apps = state.apps.filter((ref) => {
    const app = ref.deref();
    if (app !== undefined) apps.push(app);
    return app !== undefined;
  });
  return apps;
}

function duplicate(name: string): TypeError {
  return new TypeError(
    `Cannot register task "${name}": a task is already registered under that name`,
  );
}

/**
 * A group of tasks defined without an app (QTasks `Router`), for a module that should not import
 * the app: `router.task(...)` takes the same forms and options as `app.task` and returns a typed
 * handle; `app.includeRouter(router)` registers its tasks on the app.
 *
 * A handle made before the inclusion works once its router is included: its `addTask` enqueues
 * through that app. A router may be included in several apps (each registers every task); the
 * handles then need `bindTo(app)` to choose one. Tasks added to a router after its inclusion are
 * registered in the apps that include it at once.
 *
 * @example
 * ```ts
 * import { QueueTasks, Router } from "@qtasks/qtasks";
 *
 * // emails.ts: no app import
 * const emails = new Router();
 * const sendEmail = emails.task(
 *   { name: "docs-router-send", priority: 1, tags: ["email"] },
 *   async (to: string) => ({ sent: to }),
 * );
 *
 * // app.ts
 * const app = new QueueTasks({ name: "docs-router" });
 * app.includeRouter(emails);
 * await app.start();
 * console.log(await (await sendEmail.addTask("ada@example.com")).value()); // { sent: "ada@example.com" }
 * await app.stop();
 * ```
 */
export class Router {
  /** An empty router. */
  constructor() {
    states.set(this, { tasks: new Map(), apps: [] });
  }

  /** The tasks of this router, as defined (apps use their own `taskDefaultPriority`). */
  get tasks(): ReadonlyMap<string, TaskDefinition> {
    const state = states.get(this)!;
    return new Map([...state.tasks].map(([name, task]) => [name, task.template]));
  }

  /**
   * Defines a task on the router and returns its typed handle: the forms and options of
   * `app.task` (`task(fn)`, `task(name, fn)`, `task(options, fn)`).
   *
   * @throws {TypeError} On a missing function or name, a bad or unknown option, or a name the
   * router (or an app that includes it) has already.
   * @throws {RangeError} On a priority or maxTime that is not an integer (maxTime > 0).
   */
  readonly task: TaskRegistrar<"router"> = ((
    first: unknown,
    second?: unknown,
  ): BindableTaskHandle<unknown[], unknown> => {
    const state = states.get(this)!;
    const task = DetachedTask.parse(first, second);
    if (state.tasks.has(task.name)) throw duplicate(task.name);
    const apps = liveApps(state);
    for (const app of apps) if (app.tasks.has(task.name)) throw duplicate(task.name);
    state.tasks.set(task.name, task);
    for (const app of apps) task.register(app);
    return detachedHandle(task, {}, "its router is not included in an app", (app) => {
      const handle = task.handleIn(app);
      if (handle === undefined) {
        throw new TypeError(
          `Cannot bind task "${task.name}": its router is not included in app "${app.name}"`,
        );
      }
      return handle;
    });
  }) as TaskRegistrar<"router">;
}

/**
 * Registers the tasks of `router` on `app` (`app.includeRouter(router)`): all or none.
 *
 * @param app The app.
 * @param router The router.
 * @throws {TypeError} When the router is included in `app` already, or `app` has a task of the
 * same name as one of the router's.
 *
 * @example
 * ```ts
 * import { QueueTasks, Router } from "@qtasks/qtasks";
 * import { includeRouter } from "./router.ts";
 *
 * const router = new Router();
 * router.task("docs-include-ping", () => "pong");
 * const app = new QueueTasks({ name: "docs-include" });
 * includeRouter(app, router);
 * console.log(app.tasks.has("docs-include-ping")); // true
 * ```
 */
export function includeRouter(app: AppLike, router: Router): void {
  const state = router instanceof Router ? states.get(router) : undefined;
  if (state === undefined) {
    throw new TypeError("Cannot include a router: it must be made with new Router()");
  }
  if (liveApps(state).includes(app)) {
    throw new TypeError(`Cannot include the router in app "${app.name}": it is included already`);
  }
  for (const name of state.tasks.keys()) if (app.tasks.has(name)) throw duplicate(name);
  for (const task of state.tasks.values()) task.register(app);
  state.apps.push(new WeakRef(app));
}

import type { TaskDefinition, TaskOptions } from "../ports/task_executor.ts";
import { defineTask, readTaskRegistration } from "./task_options.ts";
import type { AddTaskOptions } from "./add_task_options.ts";
import type { AppLike } from "./app_like.ts";
import type { TaskHandle } from "./task_handle.ts";

/**
 * The handle of a task defined without an app, on a {@linkcode Router} or with
 * {@linkcode sharedTask}: it enqueues through the app that registered the task. When several apps
 * did, choose one with `bindTo(app)`.
 *
 * @typeParam A The function's parameters (without the context and the dependencies).
 * @typeParam R The function's awaited return type.
 *
 * @example
 * ```ts
 * import { QueueTasks, Router } from "@qtasks/qtasks";
 *
 * const router = new Router();
 * const double = router.task("docs-bindable-double", (n: number) => n * 2);
 * const app = new QueueTasks({ name: "docs-bindable" });
 * app.includeRouter(router);
 * await app.start();
 * console.log(await (await double.addTask(21)).value()); // 42
 * console.log(double.bindTo(app).definition === app.tasks.get("docs-bindable-double")); // true
 * await app.stop();
 * ```
 */
export interface BindableTaskHandle<A extends unknown[], R> extends TaskHandle<A, R> {
  /**
   * The definition in the one app that registered the task; before that (or with several such
   * apps), the task as it was defined (priority 0 unless set: an app uses its
   * `taskDefaultPriority` instead).
   */
  readonly definition: TaskDefinition;
  /** Returns a handle whose `addTask` applies these options. */
  withOptions(options: AddTaskOptions): BindableTaskHandle<A, R>;
  /** The handle of the task in `app` (with the options of this handle). */
  bindTo(app: AppLike): TaskHandle<A, R>;
}

type AnyFn = (...args: never[]) => unknown;

/**
 * A task defined without an app: its options and function, and the apps that registered it
 * (held weakly: an app nothing else holds can go).
 *
 * @example
 * ```ts
 * import { DetachedTask } from "./detached_task.ts";
 *
 * const task = DetachedTask.parse("ping", () => "pong");
 * console.log(task.name, task.template.priority, task.apps().length); // ping 0 0
 * ```
 */
export class DetachedTask {
  /** The name it registers under. */
  readonly name: string;
  /** Its options, with the name. */
  readonly options: TaskOptions;
  /** Its function. */
  readonly fn: AnyFn;
  /** The definition as defined (priority 0 unless set). */
  readonly template: TaskDefinition;
  #apps: WeakRef<AppLike>[] = [];
  #handles = new WeakMap<AppLike, TaskHandle<unknown[], unknown>>();

  /** Use {@linkcode DetachedTask.parse}. */
  constructor(name: string, options: TaskOptions, fn: AnyFn, template: TaskDefinition) {
    this.name = name;
    this.options = options;
    this.fn = fn;
    this.template = template;
  }

  /**
   * Reads the forms of `task(...)`: `(fn)`, `(name, fn)`, `(options, fn)`, and checks them with
   * the checks of `app.task` (see {@linkcode defineTask}).
   *
   * @throws {TypeError} On a missing function or name, or a bad or unknown option.
   * @throws {RangeError} On a priority, maxTime or retry out of range.
   */
  static parse(first: unknown, second?: unknown): DetachedTask {
    const registration = readTaskRegistration(first, second);
    const { name, fn } = registration;
    // The checks of app.task, with priority 0 for an unset one (an app uses its own default).
    const template = defineTask(registration, 0);
    return new DetachedTask(name, Object.freeze({ ...registration.options, name }), fn, template);
  }

  /** Whether `app` registered it. */
  registeredIn(app: AppLike): boolean {
    return this.#handles.has(app);
  }

  /** Its handle in `app`, if `app` registered it. */
  handleIn(app: AppLike): TaskHandle<unknown[], unknown> | undefined {
    return this.#handles.get(app);
  }

  /**
   * Registers it in `app` (with `app.task`, so with every check and the app's defaults).
   *
   * @throws {TypeError} When `app` has a task of that name.
   */
  register(app: AppLike): TaskHandle<unknown[], unknown> {
    const handle = app.task(this.options, this.fn);
    this.#handles.set(app, handle);
    this.#apps.push(new WeakRef(app));
    return handle;
  }

  /** The apps that registered it and still exist. */
  apps(): AppLike[] {
    const apps: AppLike[] = [];
    this.#apps = this.#apps.filter((ref) => {
      const app = ref.deref();
      if (app !== undefined) apps.push(app);
      return app !== undefined;
    });
    return apps;
  }
}

function withDefaults(
  handle: TaskHandle<unknown[], unknown>,
  defaults: AddTaskOptions,
): TaskHandle<unknown[], unknown> {
  return Object.keys(defaults).length === 0 ? handle : handle.withOptions(defaults);
}

/**
 * The handle of a detached task: it finds its app at each call.
 *
 * @param task The task.
 * @param defaults Options for each `addTask`.
 * @param unbound Why it cannot be enqueued while no app registered it.
 * @param bind `bindTo(app)`: the task's handle in `app`.
 * @returns The handle.
 *
 * @example
 * ```ts
 * import { DetachedTask, detachedHandle } from "./detached_task.ts";
 *
 * const task = DetachedTask.parse("ping", () => "pong");
 * const handle = detachedHandle(task, {}, "no app registered it", (app) => task.register(app));
 * await handle.addTask().catch((error) => console.log(error.message)); // Cannot add task "ping": no app registered it
 * ```
 */
export function detachedHandle(
  task: DetachedTask,
  defaults: AddTaskOptions,
  unbound: string,
  bind: (app: AppLike) => TaskHandle<unknown[], unknown>,
): BindableTaskHandle<unknown[], unknown> {
  const target = (verb: string): TaskHandle<unknown[], unknown> => {
    const apps = task.apps();
    if (apps.length === 1) return withDefaults(task.handleIn(apps[0])!, defaults);
    if (apps.length === 0) throw new TypeError(`Cannot ${verb} task "${task.name}": ${unbound}`);
    throw new TypeError(
      `Cannot ${verb} task "${task.name}": it is registered in several apps (${
        apps.map((app) => `"${app.name}"`).join(", ")
      }): choose one with bindTo(app)`,
    );
  };
  return {
    name: task.name,
    get definition(): TaskDefinition {
      const apps = task.apps();
      return apps.length === 1 ? task.handleIn(apps[0])!.definition : task.template;
    },
    addTask: async (...args: unknown[]) => await target("add").addTask(...args),
    addTasks: async (argsList: unknown[][]) => await target("add").addTasks(argsList),
    s: (...args: unknown[]) => ({ taskName: task.name, args, options: defaults }),
    withOptions: (options: AddTaskOptions) =>
      detachedHandle(task, { ...defaults, ...options }, unbound, bind),
    call: async (...args: unknown[]) => await target("call").call(...args),
    bindTo: (app: AppLike) => withDefaults(bind(app), defaults),
  };
}

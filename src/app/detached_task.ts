import type { TaskMiddleware } from "../plugins/task_middleware.ts";
import type { TaskDefinition, TaskOptions } from "../ports/task_executor.ts";
import { checkTaskOptions } from "./task_options.ts";
import type { QueueTasks } from "./queue_tasks.ts";
import type { AddTaskOptions, TaskHandle } from "./task_handle.ts";

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
  bindTo(app: QueueTasks): TaskHandle<A, R>;
}

type AnyFn = (...args: never[]) => unknown;
type Register = (
  this: QueueTasks,
  options: TaskOptions,
  fn: AnyFn,
) => TaskHandle<unknown[], unknown>;

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
  #apps: WeakRef<QueueTasks>[] = [];
  #handles = new WeakMap<QueueTasks, TaskHandle<unknown[], unknown>>();

  /** Use {@linkcode DetachedTask.parse}. */
  constructor(name: string, options: TaskOptions, fn: AnyFn, template: TaskDefinition) {
    this.name = name;
    this.options = options;
    this.fn = fn;
    this.template = template;
  }

  /**
   * Reads the forms of `task(...)`: `(fn)`, `(name, fn)`, `(options, fn)`, and checks them as
   * `app.task` does (its checks that need no app).
   *
   * @throws {TypeError} On a missing function or name, or a bad or unknown option.
   * @throws {RangeError} On a priority or maxTime that is not an integer (maxTime > 0).
   */
  static parse(first: unknown, second?: unknown): DetachedTask {
    const fn = typeof first === "function" ? first : second;
    const given: TaskOptions = typeof first === "string"
      ? { name: first }
      : typeof first === "object" && first !== null
      ? first as TaskOptions
      : {};
    if (typeof fn !== "function") {
      throw new TypeError("Cannot register task: a function is required");
    }
    const name = given.name ?? fn.name;
    if (typeof name !== "string" || name === "") {
      throw new TypeError(
        "Cannot register task: it needs a name (options.name or a named function)",
      );
    }
    const context = `Cannot register task "${name}"`;
    const checked = checkTaskOptions(given, context);
    const priority = given.priority ?? 0;
    if (!Number.isSafeInteger(priority) || Math.abs(priority) > 2 ** 48) {
      throw new RangeError(`${context}: priority must be an integer, got ${String(priority)}`);
    }
    if (given.maxTime !== undefined && !(Number.isFinite(given.maxTime) && given.maxTime > 0)) {
      throw new RangeError(`${context}: maxTime must be a positive number of milliseconds`);
    }
    const executor = given.executor as { execute?: unknown } | null | undefined;
    if (executor !== undefined && (executor === null || typeof executor.execute !== "function")) {
      throw new TypeError(`${context}: executor must be an object with an execute(run) method`);
    }
    const middlewares = (list: unknown, field: string): readonly TaskMiddleware[] | undefined => {
      if (list === undefined) return undefined;
      if (!Array.isArray(list) || list.some((middleware) => typeof middleware !== "function")) {
        throw new TypeError(`${context}: ${field} must be an array of functions`);
      }
      return Object.freeze([...list]);
    };
    const template: TaskDefinition = Object.freeze({
      name,
      priority,
      maxTime: given.maxTime,
      echo: given.echo ?? false,
      description: given.description,
      fn: fn as AnyFn,
      executor: given.executor,
      middlewaresBefore: middlewares(given.middlewaresBefore, "middlewaresBefore"),
      middlewaresAfter: middlewares(given.middlewaresAfter, "middlewaresAfter"),
      ...checked,
    });
    return new DetachedTask(name, Object.freeze({ ...given, name }), fn as AnyFn, template);
  }

  /** Whether `app` registered it. */
  registeredIn(app: QueueTasks): boolean {
    return this.#handles.has(app);
  }

  /** Its handle in `app`, if `app` registered it. */
  handleIn(app: QueueTasks): TaskHandle<unknown[], unknown> | undefined {
    return this.#handles.get(app);
  }

  /**
   * Registers it in `app` (with `app.task`, so with every check and the app's defaults).
   *
   * @throws {TypeError} When `app` has a task of that name.
   */
  register(app: QueueTasks): TaskHandle<unknown[], unknown> {
    const handle = (app.task as unknown as Register).call(app, this.options, this.fn);
    this.#handles.set(app, handle);
    this.#apps.push(new WeakRef(app));
    return handle;
  }

  /** The apps that registered it and still exist. */
  apps(): QueueTasks[] {
    const apps: QueueTasks[] = [];
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
  bind: (app: QueueTasks) => TaskHandle<unknown[], unknown>,
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
    bindTo: (app: QueueTasks) => withDefaults(bind(app), defaults),
  };
}

import { generatorKind } from "./_generator_kind.ts";

/**
 * When a dependency is opened and closed:
 *
 * - `task`: opened for each run of a task and closed right after it (success, error, cancel or
 *   timeout).
 * - `worker`: opened once per worker, at its first use (concurrent first uses share one opening),
 *   and closed when the worker stops.
 * - `broker`, `storage`, `globalConfig`: opened once per app, at the first use, and closed when
 *   that component stops (when the app stops).
 *
 * @example
 * ```ts
 * import type { DependencyScope } from "@qtasks/qtasks/ports";
 *
 * const scope: DependencyScope = "worker";
 * ```
 */
export type DependencyScope = "task" | "worker" | "broker" | "storage" | "globalConfig";

/**
 * Every scope, in the order their dependencies are closed when an app stops.
 *
 * @example
 * ```ts
 * import { DEPENDENCY_SCOPES } from "./depends.ts";
 *
 * console.log(DEPENDENCY_SCOPES.includes("worker")); // true
 * ```
 */
export const DEPENDENCY_SCOPES: readonly DependencyScope[] = Object.freeze([
  "task",
  "worker",
  "broker",
  "storage",
  "globalConfig",
]);

/**
 * An opened dependency: the value a task receives, and how to close it.
 *
 * @typeParam T The value.
 *
 * @example
 * ```ts
 * import type { OpenedDependency } from "@qtasks/qtasks/ports";
 *
 * const opened: OpenedDependency<number> = { value: 42, close: () => Promise.resolve() };
 * ```
 */
export interface OpenedDependency<T> {
  /** What the task receives. */
  readonly value: T;
  /** Releases it (never called twice). */
  close(): Promise<void>;
}

/**
 * A dependency a task declares in its `inject` option: made by {@linkcode depends}.
 *
 * @typeParam T The value a task receives.
 *
 * @example
 * ```ts
 * import { type Dependency, depends } from "@qtasks/qtasks";
 *
 * const clock: Dependency<number> = depends(() => Date.now());
 * console.log(clock.scope); // "task"
 * ```
 */
export interface Dependency<T> {
  /** When it is opened and closed. */
  readonly scope: DependencyScope;
  /** Its name, for messages (the factory's name). */
  readonly name: string;
  /** Opens one instance. */
  open(): Promise<OpenedDependency<T>>;
}

/**
 * Options of {@linkcode depends}.
 *
 * @example
 * ```ts
 * import type { DependsOptions } from "@qtasks/qtasks";
 *
 * const options: DependsOptions = { scope: "worker" };
 * ```
 */
export interface DependsOptions {
  /** When it is opened and closed (default `"task"`). */
  scope?: DependencyScope;
}

/**
 * The `inject` option of a task: a dependency per key.
 *
 * @example
 * ```ts
 * import { depends } from "@qtasks/qtasks";
 * import type { TaskDependencies } from "@qtasks/qtasks/ports";
 *
 * const inject: TaskDependencies = { now: depends(() => Date.now()) };
 * ```
 */
export type TaskDependencies = Record<string, Dependency<unknown>>;

/**
 * What a task with `inject: I` receives: the value of each dependency under its key.
 *
 * @typeParam I The `inject` option.
 *
 * @example
 * ```ts
 * import { type Dependency, depends } from "@qtasks/qtasks";
 * import type { Injected } from "@qtasks/qtasks/ports";
 *
 * const inject = { now: depends(() => Date.now()) };
 * const values: Injected<typeof inject> = { now: 0 };
 * ```
 */
export type Injected<I extends TaskDependencies> = {
  readonly [K in keyof I]: I[K] extends Dependency<infer T> ? T : never;
};

const SCOPES: ReadonlySet<string> = new Set(DEPENDENCY_SCOPES);
const NOTHING_TO_CLOSE = (): Promise<void> => Promise.resolve();

/** How to close a value: its `Symbol.asyncDispose`, else its `Symbol.dispose`, else nothing. */
function closerOf(value: unknown): () => Promise<void> {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) {
    return NOTHING_TO_CLOSE;
  }
  const disposable = value as { [Symbol.asyncDispose]?: unknown; [Symbol.dispose]?: unknown };
  const dispose = disposable[Symbol.asyncDispose] ?? disposable[Symbol.dispose];
  if (typeof dispose !== "function") return NOTHING_TO_CLOSE;
  return async () => {
    await (dispose as () => unknown).call(value);
  };
}

/**
 * Declares a dependency of tasks (QTasks `Depends`): a factory the worker calls to open what a
 * task needs (a database pool, a client, a config), and closes after use. Tasks list dependencies
 * in their `inject` option and receive their values as one object, their first argument (after
 * the {@linkcode TaskContext} with `echo`), typed from the option.
 *
 * The factory may be sync or async. What it returns is the value; a value with
 * `Symbol.asyncDispose` or `Symbol.dispose` (a standard disposable) is closed with it. A generator
 * factory (`function*` or `async function*`) gives its first yielded value and is closed by
 * resuming it: the code after its `yield` is the cleanup (as with Python's `contextmanager`).
 *
 * The scope decides how long a value lives (see {@linkcode DependencyScope}): `task` (default)
 * opens one per run and closes it right after the run, whatever its outcome (success, error,
 * cancel, timeout); `worker` opens one per worker at its first use (tasks that first use it at
 * the same time share that one opening) and closes it when the worker stops; `broker`, `storage`
 * and `globalConfig` open one per app and close it when that component stops. A dependency that
 * fails to open ends the run as `error` (and is tried again by the next run). One
 * `depends(...)` object is one dependency: tasks that share it share its instances.
 *
 * @param factory Opens the value.
 * @param options Its scope.
 * @returns The dependency, for a task's `inject` option.
 * @throws {TypeError} When the factory is not a function or the scope is unknown.
 *
 * @example A worker-wide client, closed when the worker stops
 * ```ts
 * import { depends, QueueTasks } from "@qtasks/qtasks";
 *
 * class Db {
 *   query(sql: string): string[] {
 *     return [sql];
 *   }
 *   async [Symbol.asyncDispose]() {
 *     console.log("db closed");
 *   }
 * }
 * const db = depends(async () => new Db(), { scope: "worker" });
 *
 * const app = new QueueTasks({ name: "docs-depends" });
 * const report = app.task(
 *   { name: "report", inject: { db } },
 *   ({ db }, table: string) => db.query(`select * from ${table}`),
 * );
 * await app.start();
 * console.log(await (await report.addTask("orders")).value()); // ["select * from orders"]
 * await app.stop(); // "db closed"
 * ```
 *
 * @example A generator: the code after `yield` is the cleanup
 * ```ts
 * import { depends } from "@qtasks/qtasks";
 *
 * const tempDir = depends(function* () {
 *   const path = `/tmp/job-${crypto.randomUUID()}`;
 *   yield path;
 *   console.log(`remove ${path}`);
 * });
 * ```
 */
export function depends<T>(
  factory: () => Generator<T, unknown, undefined> | AsyncGenerator<T, unknown, undefined>,
  options?: DependsOptions,
): Dependency<T>;
/** A dependency made by a plain or async factory (its result may be a disposable, disposed after use). */
export function depends<R>(factory: () => R, options?: DependsOptions): Dependency<Awaited<R>>;
export function depends(factory: () => unknown, options: DependsOptions = {}): Dependency<unknown> {
  if (typeof factory !== "function") {
    throw new TypeError("Cannot declare a dependency: the factory must be a function");
  }
  const scope = options.scope ?? "task";
  if (!SCOPES.has(scope)) {
    throw new TypeError(
      `Cannot declare dependency "${factory.name}": unknown scope "${scope}" (${
        DEPENDENCY_SCOPES.join(", ")
      })`,
    );
  }
  const name = factory.name || "anonymous";
  return Object.freeze({
    scope,
    name,
    async open(): Promise<OpenedDependency<unknown>> {
      const produced = factory();
      const kind = generatorKind(produced);
      if (kind === undefined) {
        const value = await produced;
        return { value, close: closerOf(value) };
      }
      const generator = produced as Generator<unknown> | AsyncGenerator<unknown>;
      const step = await generator.next();
      if (step.done) {
        throw new TypeError(
          `Cannot open dependency "${name}": its generator ended without yielding a value`,
        );
      }
      return {
        value: step.value,
        close: async () => {
          // Resumes it after its yield, like Python's contextmanager: the code after the yield
          // and its finally blocks run. One that yields again is stopped there.
          const after = await generator.next();
          if (!after.done) await generator.return(undefined);
        },
      };
    },
  });
}

/**
 * Checks a task's `inject` option: `undefined` when it declares nothing.
 *
 * @param inject The option.
 * @param context The start of error messages, e.g. `Cannot register task "x"`.
 * @returns A frozen copy, or `undefined` for none (or an empty object).
 * @throws {TypeError} When it is not an object of dependencies made by {@linkcode depends}.
 *
 * @example
 * ```ts
 * import { checkInject, depends } from "./depends.ts";
 *
 * const inject = checkInject({ now: depends(() => Date.now()) }, 'Cannot register task "x"');
 * console.log(inject?.now.scope); // "task"
 * ```
 */
export function checkInject(
  inject: unknown,
  context: string,
): Readonly<TaskDependencies> | undefined {
  if (inject === undefined) return undefined;
  if (inject === null || typeof inject !== "object" || Array.isArray(inject)) {
    throw new TypeError(`${context}: inject must be an object of dependencies (depends(...))`);
  }
  const entries = Object.entries(inject);
  if (entries.length === 0) return undefined;
  for (const [key, dependency] of entries) {
    if (
      dependency === null || typeof dependency !== "object" ||
      typeof (dependency as { open?: unknown }).open !== "function" ||
      !SCOPES.has((dependency as { scope?: string }).scope ?? "")
    ) {
      throw new TypeError(`${context}: inject.${key} must be a dependency made by depends(...)`);
    }
  }
  return Object.freeze(Object.fromEntries(entries) as TaskDependencies);
}

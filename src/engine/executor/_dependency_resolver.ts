import { TaskCancelError } from "../../model/errors/task_cancel_error.ts";
import { TaskTimeoutError } from "../../model/errors/task_timeout_error.ts";
import type { TaskExecutor, TaskOutcome, TaskRun } from "../../ports/task_executor.ts";
import { createLogger, type Logger } from "../../model/logger.ts";
import type { PluginHub } from "../../plugins/plugin_hub.ts";
import type { PluginComponent } from "../../plugins/triggers.ts";
import type { Dependency, DependencyScope, OpenedDependency } from "../../model/depends.ts";
import { describeError } from "../../model/task_codec.ts";
import type { TaskDefinition } from "../../ports/task_executor.ts";

/**
 * The dependencies opened for one run of a task.
 *
 * @example
 * ```ts
 * import type { InjectedRun } from "./_dependency_resolver.ts";
 *
 * async function runOnce(injected: InjectedRun): Promise<void> {
 *   try {
 *     await (injected.definition.fn as () => unknown)();
 *   } finally {
 *     await injected.release();
 *   }
 * }
 * ```
 */
export interface InjectedRun {
  /**
   * The definition to run: its function receives the dependency values first (after the
   * TaskContext with `echo`), and it has no `inject` of its own.
   */
  readonly definition: TaskDefinition;
  /** Closes what was opened for this run alone (never rejects; failures are logged). */
  release(): Promise<void>;
}

interface Owned {
  dependency: Dependency<unknown>;
  opened: OpenedDependency<unknown>;
}

type AnyFn = (...args: unknown[]) => unknown;

/** Calls `fn` with `values` inserted first (after the context with echo), keeping its kind. */
function withValues(definition: TaskDefinition, values: unknown): TaskDefinition {
  const fn = definition.fn as AnyFn;
  const call: AnyFn = definition.echo
    ? (context, ...args) => fn(context, values, ...args)
    : (...args) => fn(values, ...args);
  // The wrapper is a function of the same kind, for code that looks at the function's kind.
  let wrapped: AnyFn;
  switch (Object.prototype.toString.call(fn)) {
    case "[object AsyncFunction]":
      wrapped = async (...args) => await call(...args);
      break;
    case "[object GeneratorFunction]":
      wrapped = function* (...args: unknown[]) {
        return yield* call(...args) as Generator<unknown>;
      };
      break;
    case "[object AsyncGeneratorFunction]":
      wrapped = async function* (...args: unknown[]) {
        return yield* call(...args) as AsyncGenerator<unknown>;
      };
      break;
    default:
      wrapped = call;
  }
  return Object.freeze({ ...definition, fn: wrapped, inject: undefined });
}

/**
 * Resolves `promise`, or rejects with the signal's reason once it aborts; a value that arrives
 * after the abort goes to `late`.
 */
function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  late?: (value: T) => void,
): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      reject(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        if (aborted) late?.(value);
        else resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Opens and closes the dependencies of an app's tasks (their `inject` option): task-scoped ones
 * per run, the others once per scope, cached until {@linkcode DependencyResolver.close} closes
 * that scope. The app closes each scope when its component stops (see
 * {@linkcode attachDependencies}).
 *
 * @example
 * ```ts
 * import { depends } from "../../model/depends.ts";
 * import { DependencyResolver } from "./_dependency_resolver.ts";
 * import { createLogger } from "../../model/logger.ts";
 *
 * const resolver = new DependencyResolver(createLogger("silent"));
 * const injected = await resolver.open({
 *   name: "t",
 *   priority: 0,
 *   maxTime: undefined,
 *   echo: false,
 *   description: undefined,
 *   fn: ({ n }: { n: number }, x: number) => n + x,
 *   inject: { n: depends(() => 1, { scope: "worker" }) },
 * });
 * console.log((injected.definition.fn as (x: number) => number)(2)); // 3
 * await injected.release();
 * await resolver.close("worker");
 * ```
 */
export class DependencyResolver {
  #logger: Logger;
  #cached = new Map<
    DependencyScope,
    Map<Dependency<unknown>, Promise<OpenedDependency<unknown>>>
  >();

  /** @param logger Where failures to close are logged. */
  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /**
   * Opens the dependencies of one run: task-scoped ones anew, the others from their scope (opened
   * at their first use; concurrent first uses share one opening).
   *
   * @param definition A task with `inject`.
   * @param signal Stops the wait (a task-scoped value that arrives later is closed at once).
   * @param fresh Open every dependency anew, whatever its scope, and close it on release.
   * @returns The definition to run and how to close what was opened for it.
   * @throws What a factory threw, or the signal's reason.
   */
  async open(
    definition: TaskDefinition,
    signal?: AbortSignal,
    fresh = false,
  ): Promise<InjectedRun> {
    const inject = definition.inject ?? {};
    const values: Record<string, unknown> = {};
    const owned: Owned[] = [];
    try {
      for (const key of Object.keys(inject)) {
        const dependency = inject[key];
        if (fresh || dependency.scope === "task") {
          const opened = await untilAborted(
            dependency.open(),
            signal,
            (late) => void this.#closeAll([{ dependency, opened: late }]),
          );
          owned.push({ dependency, opened });
          values[key] = opened.value;
        } else {
          values[key] = (await untilAborted(this.#shared(dependency), signal)).value;
        }
      }
    } catch (error) {
      await this.#closeAll(owned);
      throw error;
    }
    return {
      definition: withValues(definition, Object.freeze(values)),
      release: () => this.#closeAll(owned),
    };
  }

  /**
   * Closes the dependencies of a scope (last opened first; a failure is logged). The next use
   * opens them again.
   */
  async close(scope: DependencyScope): Promise<void> {
    const cached = this.#cached.get(scope);
    if (cached === undefined) return;
    this.#cached.delete(scope);
    const owned: Owned[] = [];
    for (const [dependency, opening] of cached) {
      try {
        owned.push({ dependency, opened: await opening });
      } catch {
        // It never opened: nothing to close (its task ended with the error).
      }
    }
    await this.#closeAll(owned);
  }

  #shared(dependency: Dependency<unknown>): Promise<OpenedDependency<unknown>> {
    let cached = this.#cached.get(dependency.scope);
    if (cached === undefined) {
      cached = new Map();
      this.#cached.set(dependency.scope, cached);
    }
    let opening = cached.get(dependency);
    if (opening === undefined) {
      const scope = cached;
      const current = opening = dependency.open();
      scope.set(dependency, current);
      // A failed opening is not kept: the next use tries again.
      current.catch(() => {
        if (scope.get(dependency) === current) scope.delete(dependency);
      });
    }
    return opening;
  }

  async #closeAll(owned: Owned[]): Promise<void> {
    for (let index = owned.length - 1; index >= 0; index--) {
      const { dependency, opened } = owned[index];
      try {
        await opened.close();
      } catch (error) {
        this.#logger.error(
          `Could not close dependency "${dependency.name}" (${dependency.scope} scope): ${
            error instanceof Error ? error.message : String(error)
          }`,
          { error },
        );
      }
    }
    owned.length = 0;
  }
}

/** The app's resolver, by its plugin hub (one per app). */
const resolvers = new WeakMap<PluginHub, DependencyResolver>();
/** The resolver of each registered definition with `inject`. */
const attached = new WeakMap<TaskDefinition, DependencyResolver>();
/** For definitions no app registered: every dependency is opened and closed per run. */
let detached: DependencyResolver | undefined;

/** Where each scope is closed: when the component of that name stops its plugins. */
const CLOSED_WITH: ReadonlyArray<[PluginComponent, readonly DependencyScope[]]> = [
  ["worker", ["worker"]],
  ["broker", ["broker"]],
  ["storage", ["storage"]],
  ["globalConfig", ["globalConfig"]],
  // Whatever is left (a worker or broker of your own that does not stop its plugins).
  ["app", ["worker", "broker", "storage", "globalConfig"]],
];

/**
 * Attaches a registered definition with `inject` to its app's resolver: created at the app's
 * first such task, together with the plugins (no triggers) that close each scope when its
 * component stops.
 *
 * @param definition The registered definition.
 * @param plugins The app's plugins.
 * @param logger The app's logger.
 *
 * @example
 * ```ts
 * import { attachDependencies } from "./_dependency_resolver.ts";
 * import { depends } from "../../model/depends.ts";
 * import { PluginHub } from "../../plugins/plugin_hub.ts";
 * import { createLogger } from "../../model/logger.ts";
 *
 * const logger = createLogger("silent");
 * attachDependencies({
 *   name: "t",
 *   priority: 0,
 *   maxTime: undefined,
 *   echo: false,
 *   description: undefined,
 *   fn: () => 1,
 *   inject: { n: depends(() => 1) },
 * }, new PluginHub(logger), logger);
 * ```
 */
export function attachDependencies(
  definition: TaskDefinition,
  plugins: PluginHub,
  logger: Logger,
): void {
  let resolver = resolvers.get(plugins);
  if (resolver === undefined) {
    const created = resolver = new DependencyResolver(logger);
    resolvers.set(plugins, created);
    for (const [component, scopes] of CLOSED_WITH) {
      void plugins.add({
        name: `qtasks-depends-${component}`,
        handlers: {},
        async stop() {
          for (const scope of scopes) await created.close(scope);
        },
      }, { component });
    }
  }
  attached.set(definition, resolver);
}

function resolverOf(definition: TaskDefinition): { resolver: DependencyResolver; fresh: boolean } {
  const resolver = attached.get(definition);
  if (resolver !== undefined) return { resolver, fresh: false };
  detached ??= new DependencyResolver(createLogger("error"));
  return { resolver: detached, fresh: true };
}

/**
 * Runs a task with `inject` through an executor: opens its dependencies (within its maxTime, and
 * stopped by a cancel or shutdown), runs it with their values, then closes the task-scoped ones,
 * whatever the outcome. Never rejects. {@linkcode AsyncWorker} calls it for each task with
 * `inject`; a worker of your own should too.
 *
 * @param executor Runs the task.
 * @param run The run (its definition has `inject`).
 * @returns The outcome.
 *
 * @example
 * ```ts
 * import { depends } from "@qtasks/qtasks";
 * import { AsyncTaskExecutor } from "@qtasks/qtasks/ports";
 * import { executeInjected } from "./_dependency_resolver.ts";
 *
 * const outcome = await executeInjected(new AsyncTaskExecutor(), {
 *   definition: {
 *     name: "add",
 *     priority: 0,
 *     maxTime: undefined,
 *     echo: false,
 *     description: undefined,
 *     fn: ({ base }: { base: number }, x: number) => base + x,
 *     inject: { base: depends(() => 40) },
 *   },
 *   uuid: crypto.randomUUID(),
 *   priority: 0,
 *   args: [2],
 *   deliveries: 1,
 *   signal: new AbortController().signal,
 *   appName: "docs",
 *   workerId: "w1",
 *   middlewaresBefore: [],
 *   middlewaresAfter: [],
 * });
 * console.log(outcome); // { status: "success", returning: "42" }
 * ```
 */
export async function executeInjected(executor: TaskExecutor, run: TaskRun): Promise<TaskOutcome> {
  const { definition } = run;
  const { resolver, fresh } = resolverOf(definition);
  let injected: InjectedRun;
  const maxTime = definition.maxTime;
  let signal = run.signal;
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (maxTime !== undefined) {
    const own = new AbortController();
    timer = setTimeout(() => own.abort(new TaskTimeoutError(definition.name, maxTime)), maxTime);
    signal = AbortSignal.any([run.signal, own.signal]);
  }
  try {
    injected = await resolver.open(definition, signal, fresh);
  } catch (error) {
    if (error instanceof TaskCancelError) return { status: "cancel", reason: error.reason };
    return { status: "error", error: describeError(error) };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
  try {
    return await executor.execute({ ...run, definition: injected.definition });
  } finally {
    await injected.release();
  }
}

/**
 * Calls a task with `inject` in this process (a handle's `call`): opens every dependency anew,
 * whatever its scope, hands `use` the definition to call, then closes them.
 *
 * @param definition A task with `inject`.
 * @param use Calls the definition's function.
 * @returns What `use` returned.
 *
 * @example
 * ```ts
 * import { callInjected } from "./_dependency_resolver.ts";
 * import { depends } from "../../model/depends.ts";
 *
 * const sum = await callInjected({
 *   name: "add",
 *   priority: 0,
 *   maxTime: undefined,
 *   echo: false,
 *   description: undefined,
 *   fn: ({ base }: { base: number }, x: number) => base + x,
 *   inject: { base: depends(() => 40) },
 * }, (ready) => Promise.resolve((ready.fn as (x: number) => number)(2)));
 * console.log(sum); // 42
 * ```
 */
export async function callInjected<R>(
  definition: TaskDefinition,
  use: (definition: TaskDefinition) => Promise<R>,
): Promise<R> {
  const injected = await resolverOf(definition).resolver.open(definition, undefined, true);
  try {
    return await use(injected.definition);
  } finally {
    await injected.release();
  }
}

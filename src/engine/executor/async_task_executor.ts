import { TaskCancelError } from "../../model/errors/task_cancel_error.ts";
import { TaskPluginTriggerError } from "../../model/errors/task_plugin_trigger_error.ts";
import { TaskTimeoutError } from "../../model/errors/task_timeout_error.ts";
import type { PluginHub } from "../../plugins/plugin_hub.ts";
import { describeError, encodeJson } from "../../model/task_codec.ts";
import { createTaskContext } from "../../ports/task_context.ts";
import type { TaskDefinition } from "../../ports/task_executor.ts";
import type { TaskExecutor, TaskOutcome, TaskRun } from "../../ports/task_executor.ts";
import type { TaskCall, TaskMiddleware } from "../../plugins/task_middleware.ts";
import { drain, generatorKind, generatorResult, isThenable, raceAbort } from "./_task_generator.ts";

const NO_MIDDLEWARES: readonly TaskMiddleware[] = Object.freeze([]);

/** Calls the task function with its arguments (and a TaskContext first with `echo`). */
function invoke(
  definition: TaskDefinition,
  run: TaskRun,
  signal: AbortSignal,
  args: unknown[],
): unknown {
  const fn = definition.fn as (...args: unknown[]) => unknown;
  if (!definition.echo) return fn(...args);
  const context = createTaskContext({
    taskName: definition.name,
    uuid: run.uuid,
    priority: run.priority,
    deliveries: run.deliveries,
    attempt: run.attempt,
    workerId: run.workerId,
    signal,
    services: run.services,
  });
  return fn(context, ...args);
}

/** Runs a Koa-style chain over `call`, with `last` as the innermost step. */
function runChain(
  middlewares: readonly TaskMiddleware[],
  call: TaskCall,
  last: () => Promise<void>,
): Promise<void> {
  let reached = -1;
  const dispatch = async (index: number): Promise<void> => {
    if (index <= reached) {
      throw new Error(`Task "${call.taskName}": a middleware called next() more than once`);
    }
    reached = index;
    if (index === middlewares.length) return await last();
    await middlewares[index](call, () => dispatch(index + 1));
  };
  return dispatch(0);
}

/** Whether a plugin hears a trigger of the run itself (any but task_executor_middlewares_execute). */
function hooked(plugins: PluginHub): boolean {
  return plugins.listens("task_executor_args_replace") ||
    plugins.listens("task_executor_run_task") ||
    plugins.listens("task_executor_run_task_gen") ||
    plugins.listens("task_executor_run_task_trigger_error") ||
    plugins.listens("task_executor_decode") ||
    plugins.listens("task_executor_task_close");
}

/** The task's signal: the worker's own, or (with maxTime) one that also aborts on time. */
interface Limit {
  signal: AbortSignal;
  /** Starts the maxTime timer. */
  arm(): void;
  /** Clears the timer and unhooks from the worker's signal. */
  dispose(): void;
}

function limit(run: TaskRun): Limit {
  const maxTime = run.definition.maxTime;
  if (maxTime === undefined) return { signal: run.signal, arm() {}, dispose() {} };
  const own = new AbortController();
  const forward = () => own.abort(run.signal.reason);
  if (run.signal.aborted) forward();
  else run.signal.addEventListener("abort", forward, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  return {
    signal: own.signal,
    arm() {
      timer ??= setTimeout(
        () => own.abort(new TaskTimeoutError(run.definition.name, maxTime)),
        maxTime,
      );
    },
    dispose() {
      if (timer !== undefined) clearTimeout(timer);
      run.signal.removeEventListener("abort", forward);
    },
  };
}

/**
 * The default {@linkcode TaskExecutor}: calls the function (sync, async or generator), enforces
 * `maxTime` through an `AbortSignal`, runs the task's middlewares and the `task_executor_*`
 * triggers, and encodes the result as JSON.
 *
 * The steps, in order: `task_executor_middlewares_execute` (position `before`, when there are
 * before-middlewares), the before-middlewares wrapping [`task_executor_args_replace`, the call,
 * `task_executor_run_task` (or `task_executor_run_task_gen` for a generator)], then
 * `task_executor_middlewares_execute` (position `after`) and the after-middlewares, then
 * `task_executor_decode`, the JSON encoding, and, whatever happened,
 * `task_executor_task_close`. A task without middlewares whose triggers no plugin hears takes a
 * shorter path with none of these steps.
 *
 * A generator task (`function*` or `async function*`) ends with the list of values it yielded,
 * each through the task's `generateHandler` (sync or async) when it has one; when the generator
 * also returns a value other than `undefined`, the result is `{ values, returned }`.
 * `task_executor_run_task_gen` sees and may replace the list (`results`), and sees `returned`.
 *
 * An `echo` task gets its {@linkcode TaskContext} from {@linkcode createTaskContext}, with the
 * run's `services` (broker, config, logger); other tasks cost nothing for it.
 *
 * A task that exceeds `maxTime` (counted from the first middleware, when it has some) ends as
 * `error` with a {@linkcode TaskTimeoutError} at once, and its signal aborts (a generator is
 * closed); a cancel ends it as `cancel` at once, also while a middleware awaits. JavaScript
 * cannot stop a function that ignores the signal, so such a function keeps running in the
 * background and its late result is discarded.
 *
 * A {@linkcode TaskPluginTriggerError}, thrown by the task (or a middleware) or raised for a
 * plugin that failed on a `task_executor_*` trigger, is offered once to
 * `task_executor_run_task_trigger_error`: a plugin that returns `{ result }` turns it into that
 * result, and the pipeline goes on (thrown by the task or a plugin of its run, the
 * before-middlewares see that result come out of `next()`; then the after-middlewares and
 * `task_executor_decode` run). When no plugin does, the task ends as `error` with it (code
 * `TASK_PLUGIN_TRIGGER`). A plugin that fails on that trigger itself ends the task as `error`,
 * with the error naming that plugin.
 *
 * @example
 * ```ts
 * import { AsyncTaskExecutor } from "@qtasks/qtasks/ports";
 *
 * const executor = new AsyncTaskExecutor();
 * const outcome = await executor.execute({
 *   definition: {
 *     name: "add",
 *     priority: 0,
 *     maxTime: undefined,
 *     echo: false,
 *     description: undefined,
 *     fn: (a: number, b: number) => a + b,
 *   },
 *   uuid: crypto.randomUUID(),
 *   priority: 0,
 *   args: [1, 2],
 *   deliveries: 1,
 *   signal: new AbortController().signal,
 *   appName: "docs",
 *   workerId: "w1",
 *   middlewaresBefore: [],
 *   middlewaresAfter: [],
 * });
 * console.log(outcome); // { status: "success", returning: "3" }
 * ```
 *
 * @example A generator task and a middleware
 * ```ts
 * import { AsyncTaskExecutor } from "@qtasks/qtasks/ports";
 *
 * const outcome = await new AsyncTaskExecutor().execute({
 *   definition: {
 *     name: "countdown",
 *     priority: 0,
 *     maxTime: 1_000,
 *     echo: false,
 *     description: undefined,
 *     fn: function* (from: number) {
 *       for (let n = from; n > 0; n--) yield n;
 *     },
 *   },
 *   uuid: crypto.randomUUID(),
 *   priority: 0,
 *   args: [3],
 *   deliveries: 1,
 *   signal: new AbortController().signal,
 *   appName: "docs",
 *   workerId: "w1",
 *   middlewaresBefore: [async (call, next) => {
 *     await next();
 *     call.result = { values: call.result };
 *   }],
 *   middlewaresAfter: [],
 * });
 * console.log(outcome); // { status: "success", returning: '{"values":[3,2,1]}' }
 * ```
 */
export class AsyncTaskExecutor implements TaskExecutor {
  /** Runs the task; never rejects. */
  execute(run: TaskRun): Promise<TaskOutcome> {
    try {
      const before = run.middlewaresBefore ?? NO_MIDDLEWARES;
      const after = run.middlewaresAfter ?? NO_MIDDLEWARES;
      const plugins = run.plugins;
      if (before.length > 0 || after.length > 0 || (plugins !== undefined && hooked(plugins))) {
        return this.#pipeline(run, plugins, before, after);
      }
      return this.#plain(run);
    } catch (thrown) {
      return Promise.resolve({ status: "error", error: describeError(thrown), thrown });
    }
  }

  /** The run without middlewares or triggers: the hot path. */
  async #plain(run: TaskRun): Promise<TaskOutcome> {
    const { definition } = run;
    const maxTime = definition.maxTime;
    // The task's signal: the worker's own, or (with maxTime) one that also aborts on time.
    let signal = run.signal;
    let controller: AbortController | undefined;
    let forward: (() => void) | undefined;
    if (maxTime !== undefined) {
      const own = controller = new AbortController();
      signal = own.signal;
      forward = () => own.abort(run.signal.reason);
      if (run.signal.aborted) forward();
      else run.signal.addEventListener("abort", forward, { once: true });
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      let value = invoke(definition, run, signal, run.args);
      const pending = isThenable(value);
      if (pending || generatorKind(value) !== undefined) {
        if (controller && maxTime !== undefined) {
          const own = controller;
          timer = setTimeout(
            () => own.abort(new TaskTimeoutError(definition.name, maxTime)),
            maxTime,
          );
        }
        // The worker's whenAborted hears its own signal without an event listener on it.
        if (pending) value = await raceAbort(value as PromiseLike<unknown>, signal, run);
        const kind = generatorKind(value);
        if (kind !== undefined) {
          value = generatorResult(
            await drain(
              value as Generator<unknown>,
              kind,
              signal,
              definition.name,
              maxTime,
              definition.generateHandler,
            ),
          );
        }
      }
      return {
        status: "success",
        returning: encodeJson(value, `result of task "${definition.name}"`),
      };
    } catch (thrown) {
      if (thrown instanceof TaskCancelError) return { status: "cancel", reason: thrown.reason };
      return { status: "error", error: describeError(thrown), thrown };
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      if (forward) run.signal.removeEventListener("abort", forward);
    }
  }

  /** The run with middlewares and `task_executor_*` triggers. */
  async #pipeline(
    run: TaskRun,
    plugins: PluginHub | undefined,
    before: readonly TaskMiddleware[],
    after: readonly TaskMiddleware[],
  ): Promise<TaskOutcome> {
    const { definition } = run;
    const taskName = definition.name;
    const base = { appName: run.appName, taskName, uuid: run.uuid };
    const bounds = limit(run);
    // The errors offered to task_executor_run_task_trigger_error in this run: each is offered
    // once, also when it travels through several steps of the pipeline.
    const offered = new WeakSet<object>();
    // maxTime counts from here: it bounds the middlewares too.
    bounds.arm();
    const call: TaskCall = {
      appName: run.appName,
      workerId: run.workerId,
      taskName,
      uuid: run.uuid,
      priority: run.priority,
      attempt: run.attempt ?? 1,
      signal: bounds.signal,
      args: run.args,
      result: undefined,
    };
    // The function's run: args_replace, the call, run_task or run_task_gen.
    const core = async (): Promise<void> => {
      try {
        if (plugins?.listens("task_executor_args_replace")) {
          call.args =
            (await plugins.run("task_executor_args_replace", { ...base, args: call.args })).args;
        }
        let value = invoke(definition, run, bounds.signal, call.args);
        if (isThenable(value)) value = await raceAbort(value, bounds.signal);
        const kind = generatorKind(value);
        if (kind !== undefined) {
          const output = await drain(
            value as Generator<unknown>,
            kind,
            bounds.signal,
            taskName,
            definition.maxTime,
            definition.generateHandler,
          );
          if (plugins?.listens("task_executor_run_task_gen")) {
            output.values = (await plugins.run("task_executor_run_task_gen", {
              ...base,
              results: output.values,
              returned: output.returned,
            })).results;
          }
          value = generatorResult(output);
        } else if (plugins?.listens("task_executor_run_task")) {
          value = (await plugins.run("task_executor_run_task", { ...base, result: value })).result;
        }
        call.result = value;
      } catch (error) {
        call.result = await this.#recover(plugins, run, error, offered);
      }
    };
    let status: "success" | "error" | "cancel" = "error";
    try {
      try {
        if (before.length > 0) {
          if (plugins?.listens("task_executor_middlewares_execute")) {
            await plugins.run("task_executor_middlewares_execute", {
              ...base,
              position: "before",
              middlewares: before.length,
            });
          }
          await raceAbort(runChain(before, call, core), bounds.signal);
        } else await core();
      } catch (error) {
        call.result = await this.#recover(plugins, run, error, offered);
      }
      if (after.length > 0) {
        try {
          if (plugins?.listens("task_executor_middlewares_execute")) {
            await plugins.run("task_executor_middlewares_execute", {
              ...base,
              position: "after",
              middlewares: after.length,
            });
          }
          await raceAbort(runChain(after, call, () => Promise.resolve()), bounds.signal);
        } catch (error) {
          call.result = await this.#recover(plugins, run, error, offered);
        }
      }
      if (plugins?.listens("task_executor_decode")) {
        try {
          call.result =
            (await plugins.run("task_executor_decode", { ...base, result: call.result })).result;
        } catch (error) {
          call.result = await this.#recover(plugins, run, error, offered);
        }
      }
      const returning = encodeJson(call.result, `result of task "${taskName}"`);
      status = "success";
      return { status: "success", returning };
    } catch (thrown) {
      if (thrown instanceof TaskCancelError) {
        status = "cancel";
        return { status: "cancel", reason: thrown.reason };
      }
      return { status: "error", error: describeError(thrown), thrown };
    } finally {
      bounds.dispose();
      if (plugins?.listens("task_executor_task_close")) {
        try {
          await plugins.run("task_executor_task_close", { ...base, status });
        } catch {
          // A plugin's failure there is logged by the hub; the outcome stands.
        }
      }
    }
  }

  /**
   * Offers a TaskPluginTriggerError to `task_executor_run_task_trigger_error` (once): returns the
   * result a plugin supplied, or throws the error on (anything else is thrown on at once).
   */
  async #recover(
    plugins: PluginHub | undefined,
    run: TaskRun,
    error: unknown,
    offered: WeakSet<object>,
  ): Promise<unknown> {
    if (!(error instanceof TaskPluginTriggerError) || offered.has(error)) throw error;
    offered.add(error);
    if (!plugins?.listens("task_executor_run_task_trigger_error")) throw error;
    let replaced;
    try {
      replaced = await plugins.run("task_executor_run_task_trigger_error", {
        appName: run.appName,
        taskName: run.definition.name,
        uuid: run.uuid,
        error,
        result: undefined,
      });
    } catch (failed) {
      // No recursion: a plugin failing here ends the task with the error naming it.
      if (failed instanceof TaskPluginTriggerError) offered.add(failed);
      throw failed;
    }
    if (replaced.result === undefined) throw error;
    return replaced.result;
  }
}

import { TaskCancelError } from "../errors/task_cancel_error.ts";
import { TaskTimeoutError } from "../errors/task_timeout_error.ts";
import { describeError, encodeJson } from "../task/task_codec.ts";
import type { TaskContext } from "../task/task_definition.ts";
import type { TaskExecutor, TaskOutcome, TaskRun } from "./task_executor.ts";

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

/**
 * The default {@linkcode TaskExecutor}: calls the function (sync or async), enforces `maxTime`
 * through an `AbortSignal`, and encodes the result as JSON.
 *
 * A task that exceeds `maxTime` ends as `error` with a {@linkcode TaskTimeoutError} at once, and
 * its signal aborts; JavaScript cannot stop a function that ignores the signal, so such a
 * function keeps running in the background and its late result is discarded.
 *
 * @example
 * ```ts
 * import { AsyncTaskExecutor } from "@qtasks/qtasks";
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
 * });
 * console.log(outcome); // { status: "success", returning: "3" }
 * ```
 */
export class AsyncTaskExecutor implements TaskExecutor {
  /** Runs the task. */
  async execute(run: TaskRun): Promise<TaskOutcome> {
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
      const fn = definition.fn as (...args: unknown[]) => unknown;
      let value: unknown;
      if (definition.echo) {
        const context: TaskContext = {
          taskName: definition.name,
          taskUuid: run.uuid,
          priority: run.priority,
          attempt: run.deliveries,
          signal,
        };
        value = fn(context, ...run.args);
      } else {
        value = fn(...run.args);
      }
      if (isThenable(value)) {
        const pending = Promise.resolve(value);
        pending.catch(() => {});
        const aborted = new Promise<never>((_, reject) => {
          const onAbort = () => reject(signal.reason);
          if (signal.aborted) onAbort();
          else signal.addEventListener("abort", onAbort, { once: true });
        });
        if (controller && maxTime !== undefined) {
          const own = controller;
          timer = setTimeout(
            () => own.abort(new TaskTimeoutError(definition.name, maxTime)),
            maxTime,
          );
        }
        value = await Promise.race([pending, aborted]);
      }
      return {
        status: "success",
        returning: encodeJson(value, `result of task "${definition.name}"`),
      };
    } catch (thrown) {
      if (thrown instanceof TaskCancelError) return { status: "cancel", reason: thrown.reason };
      return { status: "error", error: describeError(thrown) };
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      if (forward) run.signal.removeEventListener("abort", forward);
    }
  }
}

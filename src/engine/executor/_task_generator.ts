/**
 * Generator tasks: recognising a generator object, consuming it under the run's signal (with
 * `generateHandler` applied to each value), and the result it makes. Internal to the executor
 * and `handle.call()`.
 *
 * @module
 */
import { TaskTimeoutError } from "../../model/errors/task_timeout_error.ts";

export { generatorKind } from "../../model/_generator_kind.ts";

/** Whether `value` has a callable `then` (a promise or any thenable). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

/** A promise that rejects with the signal's reason once it aborts. */
export function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Calls `listener` once when `signal` aborts (at once when it has); returns a remover. */
export function listenForAbort(
  signal: AbortSignal,
  listener: (reason: unknown) => void,
): () => void {
  if (signal.aborted) {
    listener(signal.reason);
    return () => {};
  }
  const onAbort = () => listener(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

/**
 * Awaits a thenable, or the abort of the signal, whichever comes first; the abort is heard through
 * the run's `whenAborted` when it has one (TaskRun.whenAborted: the worker's own signal without an
 * event listener on it), else through a listener on the signal, removed once the value settles.
 */
export function raceAbort(
  value: PromiseLike<unknown>,
  signal: AbortSignal,
  run?: { whenAborted?(signal: AbortSignal, listener: (reason: unknown) => void): () => void },
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const remove = run?.whenAborted !== undefined
      ? run.whenAborted(signal, reject)
      : listenForAbort(signal, reject);
    Promise.resolve(value).then((result) => {
      remove();
      resolve(result);
    }, (error) => {
      remove();
      reject(error);
    });
  });
}

/** What a generator produced: the values it yielded (handled), and what it returned. */
export interface GeneratorOutput {
  /** The yielded values, each through `generateHandler` when there is one. */
  values: unknown[];
  /** The generator's return value (`undefined` when it returned nothing). */
  returned: unknown;
}

/**
 * The result of a generator task: the list of values, or `{ values, returned }` when the
 * generator returned something other than `undefined`.
 */
export function generatorResult(output: GeneratorOutput): unknown {
  return output.returned === undefined
    ? output.values
    : { values: output.values, returned: output.returned };
}

/** Closes a sync generator that is being abandoned (its finally blocks run). */
function close(generator: Generator<unknown>): void {
  try {
    generator.return(undefined);
  } catch {
    // A finally block that throws while the task already failed: the first error stands.
  }
}

/**
 * Consumes a generator. A sync one runs to its end at once (between yields, an abort or
 * `maxTime` passed since it began stops it; a handler that returns a promise is awaited); an
 * async one is stopped by the signal (maxTime, cancel, shutdown). Each value goes through
 * `handler` (sync or async) when given. A stopped generator, or one whose handler failed, is
 * closed with `return()`, which runs its `finally` blocks.
 */
export async function drain(
  generator: Generator<unknown> | AsyncGenerator<unknown>,
  kind: "sync" | "async",
  signal: AbortSignal,
  taskName: string,
  maxTime: number | undefined,
  handler: ((value: unknown) => unknown) | undefined,
): Promise<GeneratorOutput> {
  const values: unknown[] = [];
  if (kind === "sync") {
    const sync = generator as Generator<unknown>;
    const deadline = maxTime === undefined ? undefined : performance.now() + maxTime;
    for (;;) {
      if (signal.aborted) {
        close(sync);
        throw signal.reason;
      }
      if (deadline !== undefined && maxTime !== undefined && performance.now() > deadline) {
        close(sync);
        throw new TaskTimeoutError(taskName, maxTime);
      }
      const step = sync.next();
      if (step.done) return { values, returned: step.value };
      let value = step.value;
      if (handler !== undefined) {
        try {
          value = handler(value);
          if (isThenable(value)) value = await raceAbort(value, signal);
        } catch (error) {
          close(sync);
          throw error;
        }
      }
      values.push(value);
    }
  }
  const async = generator as AsyncGenerator<unknown>;
  const aborted = untilAborted(signal);
  aborted.catch(() => {});
  try {
    for (;;) {
      const step = await Promise.race([async.next(), aborted]);
      if (step.done) return { values, returned: step.value };
      let value = step.value;
      if (handler !== undefined) {
        value = handler(value);
        if (isThenable(value)) value = await raceAbort(value, signal);
      }
      values.push(value);
    }
  } catch (error) {
    // Runs once the pending next() settles: the generator's finally blocks close what it opened.
    async.return(undefined).catch(() => {});
    throw error;
  }
}

import type { AsyncResult } from "./async_result.ts";
import type { TaskHandle } from "./task_handle.ts";
import type { FlowOptions, FlowSpec, FlowSpecStep } from "./flow_spec.ts";

/**
 * Tasks that run one after another, each given the previous one's result as its first argument:
 * made by `app.chain(first)` (a task signature or a {@linkcode Group}) and `.pipe(handle,
 * ...args)`. The broker runs it: when a step succeeds, the next one is queued in the same atomic
 * step that stores the result, so the producer does not wait in between (and may exit).
 *
 * The chain has a record of its own (task name `@chain`): `process` while it runs, then `success`
 * with the last step's result, or the `error` or `cancel` of the step that stopped it (its uuid in
 * `flowFailedUuid`); the steps after it never run. A step with retries is retried first. Cancelling
 * the chain cancels the step that runs and starts nothing more.
 *
 * @typeParam R The result of its last step.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-chain" });
 * const add = app.task("add", (a: number, b: number) => a + b);
 * const double = app.task("double", (n: number) => n * 2);
 * const label = app.task("label", (n: number, unit: string) => `${n} ${unit}`);
 * await app.start();
 * const job = await app.chain(add.s(1, 2)).pipe(double).pipe(label, "apples").addTask();
 * console.log(await job.value()); // "6 apples"
 * await app.stop();
 * ```
 */
export class Chain<R> {
  /** Its steps, in order. */
  readonly steps: readonly FlowSpecStep[];
  #enqueue: (spec: FlowSpec, options: FlowOptions) => Promise<AsyncResult<unknown>>;

  /**
   * Use `app.chain(first)`.
   *
   * @param steps Its steps so far.
   * @param enqueue How its app enqueues a flow.
   */
  constructor(
    steps: readonly FlowSpecStep[],
    enqueue: (spec: FlowSpec, options: FlowOptions) => Promise<AsyncResult<unknown>>,
  ) {
    this.steps = Object.freeze([...steps]);
    this.#enqueue = enqueue;
  }

  /**
   * A chain with one more step: `handle`'s task, called with this chain's result first, then
   * `args`. Its types are checked: the task's first parameter must take this chain's result.
   *
   * @param handle The task (its `withOptions` priority and extra fields apply).
   * @param args Its arguments after the previous result.
   */
  pipe<Rest extends unknown[], R2>(handle: TaskHandle<[R, ...Rest], R2>, ...args: Rest): Chain<R2> {
    if (handle === null || typeof handle !== "object" || typeof handle.s !== "function") {
      throw new TypeError("Cannot pipe into a chain: expected a task handle (app.task(...))");
    }
    const signature = handle.s(...([undefined, ...args] as unknown as [R, ...Rest]));
    return new Chain<R2>([...this.steps, {
      signature: { taskName: signature.taskName, args, options: signature.options },
      piped: true,
    }], this.#enqueue);
  }

  /**
   * A chain with one more step that fans out: every task of `handles` runs in parallel, each
   * with this chain's result as its only argument, and the step's result is the list of theirs,
   * in order (a group, with a record of its own).
   *
   * @param handles The tasks (at least one; their `withOptions` priority and extra fields apply).
   *
   * @example
   * ```ts
   * import { QueueTasks } from "@qtasks/qtasks";
   *
   * const app = new QueueTasks({ name: "docs-fan-out" });
   * const load = app.task("load", (id: number) => ({ id, price: 40 }));
   * const tax = app.task("tax", (item: { price: number }) => item.price * 0.2);
   * const shipping = app.task("shipping", (item: { id: number }) => (item.id > 10 ? 0 : 5));
   * const sum = app.task("sum", (parts: number[]) => parts.reduce((a, b) => a + b, 0));
   * await app.start();
   * const job = await app.chain(load.s(7)).pipeGroup([tax, shipping]).pipe(sum).addTask();
   * console.log(await job.value()); // 13
   * await app.stop();
   * ```
   */
  pipeGroup<const H extends readonly TaskHandle<[R], unknown>[]>(
    handles: H,
  ): Chain<{ -readonly [K in keyof H]: H[K] extends TaskHandle<[R], infer X> ? X : never }> {
    if (!Array.isArray(handles) || handles.length === 0) {
      throw new RangeError("Cannot pipe a group into a chain: it needs at least one task handle");
    }
    const group = handles.map((handle) => {
      if (handle === null || typeof handle !== "object" || typeof handle.s !== "function") {
        throw new TypeError(
          "Cannot pipe a group into a chain: expected task handles (app.task(...))",
        );
      }
      const signature = handle.s(undefined as R);
      return { taskName: signature.taskName, args: [], options: signature.options };
    });
    return new Chain([...this.steps, { group }], this.#enqueue);
  }

  /**
   * Enqueues the chain: its record and its first step, atomically. The rest runs on the workers.
   *
   * @returns The chain's result: its value is the last step's.
   * @throws {ValidationError} When the first step's schema refuses its arguments (nothing is stored).
   */
  async addTask(options: FlowOptions = {}): Promise<AsyncResult<R>> {
    return await this.#enqueue({ steps: this.steps }, options) as AsyncResult<R>;
  }
}

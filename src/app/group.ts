import type { AsyncResult } from "./async_result.ts";
import type { FlowOptions, FlowSpec } from "./flow_spec.ts";
import type { TaskSignature } from "./task_signature.ts";

/**
 * The results of a tuple of signatures, in order.
 *
 * @example
 * ```ts
 * import type { GroupResults, TaskSignature } from "@qtasks/qtasks";
 *
 * type Both = GroupResults<[TaskSignature<number>, TaskSignature<string>]>; // [number, string]
 * const both: Both = [1, "a"];
 * ```
 */
export type GroupResults<S extends readonly TaskSignature<unknown>[]> = {
  -readonly [K in keyof S]: S[K] extends TaskSignature<infer R> ? R : never;
};

/**
 * Tasks that run in parallel, whose results are gathered in order by the broker: made by
 * `app.group([...signatures])`. Enqueue it with `addTask()`, or start a chain with it
 * (`app.chain(group)`), whose next step gets the list of results.
 *
 * The group has a record of its own (task name `@group`), whose outcome is the group's: `success`
 * with the results in order once every member succeeded (after their retries), or the `error` or
 * `cancel` of the first member that did not (the others still run; their results are dropped).
 *
 * @typeParam T The results, in order.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-group" });
 * const square = app.task("square", (n: number) => n * n);
 * await app.start();
 * const job = await app.group([square.s(2), square.s(3), square.s(4)]).addTask();
 * console.log(await job.value()); // [4, 9, 16]
 * await app.stop();
 * ```
 */
export class Group<T extends unknown[]> {
  /** Its tasks, in order. */
  readonly signatures: readonly TaskSignature<unknown>[];
  #enqueue: (spec: FlowSpec, options: FlowOptions) => Promise<AsyncResult<unknown>>;

  /**
   * Use `app.group(signatures)`.
   *
   * @param signatures Its tasks (at least one).
   * @param enqueue How its app enqueues a flow.
   */
  constructor(
    signatures: readonly TaskSignature<unknown>[],
    enqueue: (spec: FlowSpec, options: FlowOptions) => Promise<AsyncResult<unknown>>,
  ) {
    if (!Array.isArray(signatures) || signatures.length === 0) {
      throw new RangeError("Cannot create a group: it needs at least one task signature");
    }
    for (const signature of signatures) checkSignature(signature, "a group");
    this.signatures = Object.freeze([...signatures]);
    this.#enqueue = enqueue;
  }

  /**
   * Enqueues its tasks and its record, atomically, and returns the result of the group: its
   * value is the list of results, in order.
   *
   * @throws {ValidationError} When a task's schema refuses its arguments (nothing is stored).
   * @throws {InvalidPayloadError} When arguments cannot be stored (nothing is).
   */
  async addTask(options: FlowOptions = {}): Promise<AsyncResult<T>> {
    return await this.#enqueue({ steps: [{ group: this.signatures }] }, options) as AsyncResult<
      T
    >;
  }
}

/**
 * Throws a TypeError unless `signature` is one (made by a handle's `s(...)`).
 *
 * @param signature What was given.
 * @param where For the message: "a group", "a chain".
 *
 * @example
 * ```ts
 * import { checkSignature } from "./group.ts";
 *
 * checkSignature({ taskName: "add", args: [1, 2], options: {} }, "a group");
 * ```
 */
export function checkSignature(signature: TaskSignature<unknown>, where: string): void {
  if (
    signature === null || typeof signature !== "object" ||
    typeof signature.taskName !== "string" || !Array.isArray(signature.args)
  ) {
    throw new TypeError(
      `Cannot add to ${where}: expected a task signature (handle.s(...args)), got ${
        signature === null ? "null" : typeof signature
      }`,
    );
  }
}

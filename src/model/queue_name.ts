/**
 * Named queues: a task goes to one queue (its `queue` option, or the call's), and a worker
 * consumes the queues it is given, in their order or by their weights. The default queue is
 * named `default`; a task that names no queue goes there, and a worker given no `queues` consumes
 * it alone.
 *
 * @module
 */

/**
 * The queue of tasks that name none, and the one a worker consumes when it is given no `queues`.
 *
 * @example
 * ```ts
 * import { DEFAULT_QUEUE } from "@qtasks/qtasks/ports";
 *
 * console.log(DEFAULT_QUEUE); // default
 * ```
 */
export const DEFAULT_QUEUE = "default";

const QUEUE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Checks a queue name: 1 to 64 letters, digits, `_`, `.` or `-` (it becomes part of a key).
 *
 * @param name The name to check.
 * @param context What is being done, for the message (`Cannot register task "x"`).
 * @param field The option that holds it (`queue`, `queues`).
 * @returns The name.
 * @throws {TypeError} Naming the field, when the name is not valid.
 *
 * @example
 * ```ts
 * import { checkQueueName } from "./queue_name.ts";
 *
 * console.log(checkQueueName("emails", "Cannot add task", "queue")); // emails
 * try {
 *   checkQueueName("a b", 'Cannot register task "x"', "queue");
 * } catch (error) {
 *   console.log((error as Error).message); // Cannot register task "x": queue must be 1 to 64 letters, digits, "_", "." or "-", got "a b"
 * }
 * ```
 */
export function checkQueueName(name: unknown, context: string, field: string): string {
  if (typeof name !== "string" || !QUEUE_NAME.test(name)) {
    throw new TypeError(
      `${context}: ${field} must be 1 to 64 letters, digits, "_", "." or "-", got ${
        typeof name === "string" ? JSON.stringify(name) : String(name)
      }`,
    );
  }
  return name;
}

/**
 * One queue a worker consumes, with its weight (see `AsyncWorkerOptions.queues`).
 *
 * @example
 * ```ts
 * import type { WorkerQueue } from "@qtasks/qtasks/ports";
 *
 * const queues: WorkerQueue[] = [{ name: "io", weight: 3 }, { name: "cpu", weight: 1 }];
 * ```
 */
export interface WorkerQueue {
  /** The queue's name. */
  name: string;
  /**
   * Its weight, a positive integer: each claim visits the queues in an order drawn at random,
   * each queue coming first with a chance proportional to its weight. Absent on every queue of
   * the list: the list's order is strict (the first queue is emptied before the second).
   */
  weight?: number;
}

/**
 * Checks a worker's `queues` option and reads it: names in order, and weights when any is given.
 *
 * @param queues The option (names, or `{ name, weight }` objects).
 * @param context What is being done, for the message.
 * @returns The names (deduplicated, in order) and their weights (all 1 when none is given).
 * @throws {TypeError} On an empty list, a bad name, or a weight that is not a positive integer.
 *
 * @example
 * ```ts
 * import { readWorkerQueues } from "./queue_name.ts";
 *
 * console.log(readWorkerQueues(["io", { name: "cpu", weight: 2 }], "Cannot create AsyncWorker"));
 * // { names: [ "io", "cpu" ], weights: [ 1, 2 ], weighted: true }
 * ```
 */
export function readWorkerQueues(
  queues: ReadonlyArray<string | WorkerQueue>,
  context: string,
): { names: string[]; weights: number[]; weighted: boolean } {
  if (!Array.isArray(queues) || queues.length === 0) {
    throw new TypeError(`${context}: queues must be a non-empty list of queue names`);
  }
  const names: string[] = [];
  const weights: number[] = [];
  let weighted = false;
  for (const entry of queues) {
    const name = checkQueueName(typeof entry === "string" ? entry : entry?.name, context, "queues");
    const weight = typeof entry === "string" ? undefined : entry.weight;
    if (weight !== undefined) {
      if (!Number.isSafeInteger(weight) || weight < 1) {
        throw new TypeError(
          `${context}: queues weight of "${name}" must be a positive integer, got ${
            String(weight)
          }`,
        );
      }
      weighted = true;
    }
    if (names.includes(name)) continue;
    names.push(name);
    weights.push(weight ?? 1);
  }
  return { names, weights, weighted };
}

/**
 * The order in which one claim visits weighted queues: drawn at random, each queue coming next
 * with a chance proportional to its weight among those left.
 *
 * @param names The queue names.
 * @param weights Their weights.
 * @param random A source of numbers in [0, 1) (default `Math.random`).
 * @returns The names, reordered.
 *
 * @example
 * ```ts
 * import { weightedOrder } from "./queue_name.ts";
 *
 * console.log(weightedOrder(["a", "b"], [1, 0], () => 0.5)); // [ "a", "b" ]
 * ```
 */
export function weightedOrder(
  names: readonly string[],
  weights: readonly number[],
  random: () => number = Math.random,
): string[] {
  const left = names.map((name, i) => ({ name, weight: weights[i] }));
  const order: string[] = [];
  while (left.length > 0) {
    const total = left.reduce((sum, q) => sum + q.weight, 0);
    let pick = random() * total;
    let index = 0;
    while (index < left.length - 1 && pick >= left[index].weight) {
      pick -= left[index].weight;
      index++;
    }
    order.push(left[index].name);
    left.splice(index, 1);
  }
  return order;
}

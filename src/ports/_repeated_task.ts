/**
 * Finds a uuid named twice in one batch of `Broker.addBulk` or `addFlow` (shared by the
 * implementations: a batch that names a uuid twice is refused whole, as a duplicate).
 *
 * @module
 */
import type { NewTask } from "./broker.ts";

/**
 * The first task of `tasks` whose uuid an earlier one has, or `undefined`. The uuids the app
 * makes ascend (version 7, `newTaskUuid`), so a batch of them is checked with one comparison per
 * task; a set of the uuids is made only when they do not ascend (hashing 1,000 uuids took about
 * 0.5 ms per batch in Deno, measured for issue 20).
 *
 * @param tasks The batch.
 * @returns The second task of a repeated uuid, or `undefined` when every uuid is new to it.
 *
 * @example
 * ```ts
 * import { repeatedTask } from "./_repeated_task.ts";
 *
 * const task = (uuid: string) => ({ uuid, taskName: "t", priority: 0, args: "[]", kwargs: "{}", extra: {} });
 * console.log(repeatedTask([task("a"), task("b")])); // undefined
 * console.log(repeatedTask([task("b"), task("a"), task("b")])?.uuid); // "b"
 * ```
 */
export function repeatedTask<T extends Pick<NewTask, "uuid">>(tasks: readonly T[]): T | undefined {
  let ascending = true;
  for (let i = 1; i < tasks.length && ascending; i++) {
    ascending = tasks[i - 1].uuid < tasks[i].uuid;
  }
  if (ascending) return undefined;
  const seen = new Set<string>();
  for (const task of tasks) {
    if (seen.has(task.uuid)) return task;
    seen.add(task.uuid);
  }
  return undefined;
}

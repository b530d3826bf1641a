import type { TaskFields } from "../model/task_codec.ts";

/** How many records `Storage.getAll` reads when no limit is given. */
const DEFAULT_GET_ALL_LIMIT = 1000;

/**
 * Checks the `limit` of `Storage.getAll`.
 *
 * @param limit A non-negative integer, or `undefined` for the default, 1000.
 * @returns The limit to apply.
 * @throws {RangeError} When it is not a non-negative integer.
 *
 * @example
 * ```ts
 * import { checkGetAllLimit } from "./_record_order.ts";
 *
 * console.log(checkGetAllLimit(undefined), checkGetAllLimit(5)); // 1000 5
 * ```
 */
export function checkGetAllLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_GET_ALL_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(
      `Cannot read the task records: limit must be a non-negative integer, got ${String(limit)}`,
    );
  }
  return limit;
}

/**
 * Sorts stored records, given as `[uuid, fields]`, oldest first: by `created_at`, then by
 * `seq` (the enqueue order within one instant). Sorts in place and returns the array.
 *
 * @param entries The records.
 * @returns The same array, sorted.
 *
 * @example
 * ```ts
 * import { sortOldestFirst } from "./_record_order.ts";
 *
 * const sorted = sortOldestFirst([
 *   ["b", { created_at: "2.000", seq: "2" }],
 *   ["a", { created_at: "1.000", seq: "9" }],
 *   ["c", { created_at: "2.000", seq: "3" }],
 * ]);
 * console.log(sorted.map(([uuid]) => uuid)); // ["a", "b", "c"]
 * ```
 */
export function sortOldestFirst<E extends [string, TaskFields]>(entries: E[]): E[] {
  return entries.sort((a, b) =>
    (Number(a[1].created_at) || 0) - (Number(b[1].created_at) || 0) ||
    (Number(a[1].seq) || 0) - (Number(b[1].seq) || 0)
  );
}

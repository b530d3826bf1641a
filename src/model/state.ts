/**
 * The keys of `T` that may be absent (its optional keys, or any key of a record type).
 *
 * @typeParam T A state's shape.
 *
 * @example
 * ```ts
 * import type { OptionalKeys } from "@qtasks/qtasks/ports";
 *
 * const key: OptionalKeys<{ hits: number; last?: string }> = "last";
 * ```
 */
export type OptionalKeys<T> = {
  [K in keyof T]-?: Record<never, never> extends Pick<T, K> ? K : never;
}[keyof T];

/**
 * A named state shared by the tasks of one process (QTasks `State`): see {@linkcode defineState}.
 *
 * @typeParam T Its shape.
 *
 * @example
 * ```ts
 * import { defineState, type State } from "@qtasks/qtasks";
 *
 * const seen: State<{ count: number; last?: string }> = defineState("docs-seen", { count: 0 });
 * seen.update((current) => ({ count: current.count + 1, last: "ada" }));
 * console.log(seen.get()); // { count: 1, last: "ada" }
 * ```
 */
export interface State<T extends Record<string, unknown>> {
  /** Its name (unique in the process). */
  readonly name: string;
  /** The whole state: a frozen snapshot, not changed by later updates. */
  get(): Readonly<T>;
  /** One key's value. */
  get<K extends keyof T>(key: K): T[K];
  /** Sets one key. */
  set<K extends keyof T>(key: K, value: T[K]): void;
  /** Sets several keys: the given ones, or those the function returns from the current state. */
  update(changes: Partial<T> | ((current: Readonly<T>) => Partial<T>)): void;
  /** Removes an optional key; returns whether it was there. */
  delete(key: OptionalKeys<T>): boolean;
  /** Forgets every change: the state holds its initial value again. */
  clear(): void;
}

const names = new Set<string>();

/**
 * Defines a named state: a small key-value object that the tasks of one process share (QTasks
 * `State`), for counters, caches and rate-limit windows. Define it at module level and use it
 * from the task functions that need it, like any module-level object.
 *
 * Every method is synchronous, so a `get` followed by a `set` (or an `update` with a function)
 * cannot interleave with another task. Values are kept as given (not copied); `get()` returns a
 * frozen snapshot. A state lives in memory in this process only: it is not persisted, and each
 * worker process (and machine) has its own. Use the storage or your own database for anything
 * that must survive a restart or be seen by every worker.
 *
 * @param name Unique in the process (for messages and inspection).
 * @param initial The initial value (copied); `clear()` goes back to it.
 * @returns The state.
 * @throws {TypeError} When the name is empty or taken, or `initial` is not a plain object.
 *
 * @example Two tasks share a counter in one worker process
 * ```ts
 * import { defineState, QueueTasks } from "@qtasks/qtasks";
 *
 * const counter = defineState("docs-counter", { hits: 0 });
 *
 * const app = new QueueTasks({ name: "docs-state" });
 * const hit = app.task("hit", () => counter.update((s) => ({ hits: s.hits + 1 })));
 * const read = app.task("read", () => counter.get("hits"));
 *
 * await app.start();
 * await (await hit.addTask()).result();
 * await (await hit.addTask()).result();
 * console.log(await (await read.addTask()).value()); // 2
 * await app.stop();
 * ```
 */
export function defineState<T extends Record<string, unknown>>(
  name: string,
  initial: T,
): State<T> {
  if (typeof name !== "string" || name === "") {
    throw new TypeError("Cannot define a state: it needs a non-empty name");
  }
  if (names.has(name)) {
    throw new TypeError(
      `Cannot define state "${name}": a state is already defined under that name`,
    );
  }
  if (
    initial === null || typeof initial !== "object" || Array.isArray(initial) ||
    ![Object.prototype, null].includes(Object.getPrototypeOf(initial))
  ) {
    throw new TypeError(`Cannot define state "${name}": the initial value must be a plain object`);
  }
  names.add(name);
  const start: Readonly<T> = Object.freeze({ ...initial });
  // Replaced (never changed in place) on every change, so get() hands out snapshots for free.
  let values: Readonly<T> = start;
  return Object.freeze({
    name,
    get(key?: keyof T) {
      return key === undefined ? values : values[key];
    },
    set<K extends keyof T>(key: K, value: T[K]): void {
      values = Object.freeze({ ...values, [key]: value });
    },
    update(changes: Partial<T> | ((current: Readonly<T>) => Partial<T>)): void {
      const partial = typeof changes === "function" ? changes(values) : changes;
      values = Object.freeze({ ...values, ...partial });
    },
    delete(key: OptionalKeys<T>): boolean {
      if (!Object.hasOwn(values, key)) return false;
      const copy: Partial<T> = { ...values };
      delete copy[key];
      values = Object.freeze(copy) as Readonly<T>;
      return true;
    },
    clear(): void {
      values = start;
    },
  }) as State<T>;
}

/**
 * Private: checks the `deduplication` option (task option and call option) and turns it into
 * what a broker stores ({@linkcode NewTask.deduplication}): the id evaluated on the call's
 * arguments. Bad input is a `TypeError` naming the field, thrown before anything is stored.
 *
 * @module
 */
import type { NewTask } from "../ports/broker.ts";
import type { Deduplication } from "../ports/task_executor.ts";

/** The longest deduplication id, in UTF-16 units. */
export const MAX_DEDUPLICATION_ID = 1000;

const MODES: ReadonlySet<string> = new Set(["throttle", "debounce"]);

/**
 * Checks the shape of a `deduplication` option: an object with an `id` (a non-empty string, or a
 * function), a `ttlMs` (a finite number > 0) and an optional `mode` (`throttle` or `debounce`).
 *
 * @param value The option as given.
 * @param context The start of every error message (`Cannot add task "x"`, `Task "x"`).
 * @returns The option, frozen.
 * @throws {TypeError} Naming the field that is wrong.
 */
export function checkDeduplication(value: unknown, context: string): Deduplication {
  if (typeof value !== "object" || value === null) {
    throw new TypeError(`${context}: deduplication must be an object { id, ttlMs, mode? }`);
  }
  const { id, ttlMs, mode } = value as Record<string, unknown>;
  if (typeof id === "string") checkId(id, context);
  else if (typeof id !== "function") {
    throw new TypeError(
      `${context}: deduplication.id must be a non-empty string or a function of the arguments, got ${typeof id}`,
    );
  }
  if (typeof ttlMs !== "number" || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new TypeError(
      `${context}: deduplication.ttlMs must be a finite number of milliseconds > 0, got ${
        String(ttlMs)
      }`,
    );
  }
  if (mode !== undefined && (typeof mode !== "string" || !MODES.has(mode))) {
    throw new TypeError(
      `${context}: deduplication.mode must be "throttle" or "debounce", got ${String(mode)}`,
    );
  }
  return Object.freeze({
    id: id as Deduplication["id"],
    ttlMs,
    ...(mode === undefined ? {} : { mode: mode as "throttle" | "debounce" }),
  });
}

/**
 * The deduplication a broker stores for one call: the id (evaluated on the arguments when it is
 * a function), the time to live in whole milliseconds and the mode.
 *
 * @param option A checked option (see {@linkcode checkDeduplication}).
 * @param args The call's arguments.
 * @param context The start of every error message.
 * @returns The task's `deduplication`.
 * @throws {TypeError} When the id function throws or returns anything but a non-empty string of
 *   at most 1,000 characters.
 */
export function deduplicationOf(
  option: Deduplication,
  args: unknown[],
  context: string,
): NonNullable<NewTask["deduplication"]> {
  let id: unknown = option.id;
  if (typeof id === "function") {
    try {
      id = (id as (...args: unknown[]) => unknown)(...args);
    } catch (cause) {
      throw new TypeError(
        `${context}: deduplication.id threw: ${
          cause instanceof Error ? cause.message : String(cause)
        }`,
        { cause },
      );
    }
    if (typeof id !== "string") {
      throw new TypeError(
        `${context}: deduplication.id must return a non-empty string, got ${
          id === null ? "null" : typeof id
        }`,
      );
    }
  }
  checkId(id as string, context);
  return {
    id: id as string,
    ttlMs: Math.ceil(option.ttlMs),
    mode: option.mode ?? "throttle",
  };
}

function checkId(id: string, context: string): void {
  if (id.length === 0 || id.length > MAX_DEDUPLICATION_ID) {
    throw new TypeError(
      `${context}: deduplication.id must be a non-empty string of at most ${MAX_DEDUPLICATION_ID} characters, got a string of ${id.length} characters`,
    );
  }
}

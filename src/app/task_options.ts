import { checkInject, type TaskDependencies } from "../model/depends.ts";
import { isReservedField } from "../model/task_codec.ts";
import type { TaskOptions } from "../ports/task_executor.ts";

/**
 * Every option of {@linkcode TaskOptions}: the type checker keeps this list and the type in step
 * (an option added to one and not the other does not compile).
 */
const OPTION_NAMES = {
  name: true,
  priority: true,
  maxTime: true,
  echo: true,
  description: true,
  executor: true,
  middlewaresBefore: true,
  middlewaresAfter: true,
  tags: true,
  extra: true,
  inject: true,
  generateHandler: true,
  schema: true,
  retry: true,
  retryOn: true,
  backoff: true,
} as const satisfies Record<keyof TaskOptions, true>;

/**
 * The names of the task options, in the order the documentation lists them.
 *
 * @example
 * ```ts
 * import { TASK_OPTION_NAMES } from "./task_options.ts";
 *
 * console.log(TASK_OPTION_NAMES.includes("maxTime")); // true
 * ```
 */
export const TASK_OPTION_NAMES: readonly (keyof TaskOptions)[] = Object.freeze(
  Object.keys(OPTION_NAMES) as (keyof TaskOptions)[],
);

/**
 * The task options checked by {@linkcode checkTaskOptions}, as stored on the definition.
 *
 * @example
 * ```ts
 * import type { CheckedTaskOptions } from "./task_options.ts";
 *
 * const checked: CheckedTaskOptions = { tags: ["billing"], extra: undefined, inject: undefined };
 * ```
 */
export interface CheckedTaskOptions {
  /** A frozen copy of `tags`. */
  tags: readonly string[] | undefined;
  /** A frozen copy of `extra`. */
  extra: Readonly<Record<string, string>> | undefined;
  /** A frozen copy of `inject` (`undefined` when it declares nothing). */
  inject: Readonly<TaskDependencies> | undefined;
}

/**
 * Checks that a task's options are all known (a misspelt one, `maxtime`, is an error rather than
 * silently ignored), and checks `tags`, `extra` and `inject`.
 *
 * @param options The options given to `task(options, fn)`.
 * @param context The start of error messages, e.g. `Cannot register task "x"`.
 * @returns Frozen copies of `tags`, `extra` and `inject`.
 * @throws {TypeError} For an unknown option (the message lists the valid ones), or a bad value.
 *
 * @example
 * ```ts
 * import { checkTaskOptions } from "./task_options.ts";
 *
 * try {
 *   checkTaskOptions({ name: "x", maxtime: 5 } as never, 'Cannot register task "x"');
 * } catch (error) {
 *   console.log((error as Error).message); // Cannot register task "x": unknown option "maxtime" (…)
 * }
 * ```
 */
export function checkTaskOptions(options: TaskOptions, context: string): CheckedTaskOptions {
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(OPTION_NAMES, key)) {
      throw new TypeError(
        `${context}: unknown option "${key}" (valid options: ${TASK_OPTION_NAMES.join(", ")})`,
      );
    }
  }
  return {
    tags: checkTags(options.tags, context),
    extra: checkExtra(options.extra, context),
    inject: checkInject(options.inject, context),
  };
}

function checkTags(tags: unknown, context: string): readonly string[] | undefined {
  if (tags === undefined) return undefined;
  if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== "string" || tag === "")) {
    throw new TypeError(`${context}: tags must be an array of non-empty strings`);
  }
  return Object.freeze([...tags]);
}

function checkExtra(
  extra: unknown,
  context: string,
): Readonly<Record<string, string>> | undefined {
  if (extra === undefined) return undefined;
  if (extra === null || typeof extra !== "object" || Array.isArray(extra)) {
    throw new TypeError(`${context}: extra must be an object of string fields`);
  }
  const entries = Object.entries(extra);
  for (const [field, value] of entries) {
    if (isReservedField(field)) {
      throw new TypeError(`${context}: extra field "${field}" is reserved for QTasks`);
    }
    if (typeof value !== "string") {
      throw new TypeError(`${context}: extra field "${field}" must be a string`);
    }
  }
  return entries.length === 0 ? undefined : Object.freeze(Object.fromEntries(entries));
}

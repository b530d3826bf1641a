/**
 * The one place that checks a task registration: `app.task`, `router.task` and `sharedTask` all
 * read their arguments with {@linkcode readTaskRegistration} and build the definition with
 * {@linkcode defineTask}, so they accept and refuse the same options with the same messages.
 *
 * @module
 */
import { checkInject, type TaskDependencies } from "../model/depends.ts";
import { checkBackoff } from "../model/retry_policy.ts";
import { isReservedField } from "../model/task_codec.ts";
import { checkQueueName, DEFAULT_QUEUE } from "../model/queue_name.ts";
import { isArgsSchema } from "../model/task_schema.ts";
import type { TaskMiddleware } from "../plugins/task_middleware.ts";
import type {
  ConcurrencyLimit,
  RateLimit,
  TaskDefinition,
  TaskOptions,
} from "../ports/task_executor.ts";

/**
 * Every option of {@linkcode TaskOptions}: the type checker keeps this list and the type in step
 * (an option added to one and not the other does not compile).
 */
const OPTION_NAMES = {
  name: true,
  priority: true,
  queue: true,
  concurrency: true,
  rateLimit: true,
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

/**
 * A task registration as given: `task(fn)`, `task(name, fn)` or `task(options, fn)`.
 *
 * @example
 * ```ts
 * import type { TaskRegistration } from "./task_options.ts";
 *
 * const registration: TaskRegistration = { name: "ping", options: { name: "ping" }, fn: () => "pong" };
 * ```
 */
export interface TaskRegistration {
  /** The name it registers under: `options.name`, else the function's name. */
  name: string;
  /** Its options (with `name` only when the caller gave one). */
  options: TaskOptions;
  /** Its function. */
  fn: (...args: never[]) => unknown;
}

/**
 * Reads the forms of `task(...)`: `(fn)` (named after the function), `(name, fn)` and
 * `(options, fn)`.
 *
 * @param first A function, a name or the options.
 * @param second The function, unless `first` is.
 * @returns The name, the options and the function (the options are checked by
 *   {@linkcode defineTask}).
 * @throws {TypeError} On a missing function or name.
 *
 * @example
 * ```ts
 * import { readTaskRegistration } from "./task_options.ts";
 *
 * function ping(): string {
 *   return "pong";
 * }
 * console.log(readTaskRegistration(ping).name); // ping
 * console.log(readTaskRegistration("other", ping).name); // other
 * ```
 */
export function readTaskRegistration(first: unknown, second?: unknown): TaskRegistration {
  const fn = typeof first === "function" ? first : second;
  const options: TaskOptions = typeof first === "string"
    ? { name: first }
    : typeof first === "object" && first !== null
    ? first as TaskOptions
    : {};
  if (typeof fn !== "function") {
    throw new TypeError("Cannot register task: a function is required");
  }
  const name = options.name ?? fn.name;
  if (typeof name !== "string" || name === "") {
    throw new TypeError(
      "Cannot register task: it needs a name (options.name or a named function)",
    );
  }
  return { name, options, fn: fn as (...args: never[]) => unknown };
}

/**
 * Checks every option of a task registration and returns its frozen definition (its
 * dependencies not attached yet).
 *
 * @param registration What {@linkcode readTaskRegistration} read.
 * @param defaultPriority The priority when the options set none (an app's
 *   `taskDefaultPriority`; 0 for a task defined without an app).
 * @returns The definition.
 * @throws {TypeError} On an unknown option (`Cannot register task "x": unknown option "maxtime"
 *   (valid options: …)`), bad `tags`, `extra` or `inject`, an executor without `execute`, a
 *   middleware that is not a function, a `schema` or `generateHandler` of the wrong kind, a
 *   `retryOn` that is not a list of classes, or a `backoff` of an unknown type.
 * @throws {RangeError} On a priority or maxTime that is not an integer (maxTime > 0), a `retry`
 *   that is not an integer >= 0, or `backoff` numbers out of range.
 *
 * @example
 * ```ts
 * import { defineTask, readTaskRegistration } from "./task_options.ts";
 *
 * const definition = defineTask(readTaskRegistration({ name: "add", retry: 2 }, () => 3), 0);
 * console.log(definition.name, definition.priority, definition.retry); // add 0 2
 * try {
 *   defineTask(readTaskRegistration({ name: "bad", maxTime: 0 }, () => 1), 0);
 * } catch (error) {
 *   console.log((error as Error).message); // Cannot register task "bad": maxTime must be a positive number of milliseconds
 * }
 * ```
 */
export function defineTask(
  registration: TaskRegistration,
  defaultPriority: number,
): TaskDefinition {
  const { name, options, fn } = registration;
  const context = `Cannot register task "${name}"`;
  const checked = checkTaskOptions(options, context);
  const priority = options.priority ?? defaultPriority;
  checkPriority(priority, context);
  if (
    options.maxTime !== undefined && !(Number.isFinite(options.maxTime) && options.maxTime > 0)
  ) {
    throw new RangeError(`${context}: maxTime must be a positive number of milliseconds`);
  }
  if (options.executor !== undefined) checkExecutor(options.executor, context);
  const middlewaresBefore = checkMiddlewares(
    options.middlewaresBefore,
    `${context}: middlewaresBefore`,
  );
  const middlewaresAfter = checkMiddlewares(
    options.middlewaresAfter,
    `${context}: middlewaresAfter`,
  );
  if (options.generateHandler !== undefined && typeof options.generateHandler !== "function") {
    throw new TypeError(
      `${context}: generateHandler must be a function (value) => value, got ${
        typeName(options.generateHandler)
      }`,
    );
  }
  if (options.schema !== undefined && !isArgsSchema(options.schema)) {
    throw new TypeError(
      `${context}: schema must be a Standard Schema of the argument list, such as z.tuple([...])`,
    );
  }
  const queue = options.queue === undefined
    ? undefined
    : checkQueueName(options.queue, context, "queue");
  const concurrency = checkConcurrency(options.concurrency, context);
  const rateLimit = checkRateLimit(options.rateLimit, context);
  return Object.freeze({
    name,
    priority,
    ...(queue === undefined || queue === DEFAULT_QUEUE ? {} : { queue }),
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(rateLimit === undefined ? {} : { rateLimit }),
    maxTime: options.maxTime,
    echo: options.echo ?? false,
    description: options.description,
    fn,
    executor: options.executor,
    middlewaresBefore,
    middlewaresAfter,
    ...checked,
    generateHandler: options.generateHandler,
    schema: options.schema,
    ...checkRetry(options, context),
  });
}

/**
 * Checks a task priority: a safe integer of at most 2^48 either way.
 *
 * @param priority The priority.
 * @param context The start of the error message, e.g. `Cannot add task "x"`.
 * @throws {RangeError} When it is not one.
 *
 * @example
 * ```ts
 * import { checkPriority } from "./task_options.ts";
 *
 * checkPriority(-3, 'Cannot add task "x"'); // fine
 * try {
 *   checkPriority(1.5, 'Cannot add task "x"');
 * } catch (error) {
 *   console.log((error as Error).message); // Cannot add task "x": priority must be an integer, got 1.5
 * }
 * ```
 */
export function checkPriority(priority: unknown, context: string): void {
  if (!Number.isSafeInteger(priority) || Math.abs(priority as number) > 2 ** 48) {
    throw new RangeError(`${context}: priority must be an integer, got ${String(priority)}`);
  }
}

/**
 * Checks an executor (of an app or a task): an object with an `execute(run)` method.
 *
 * @param executor The executor.
 * @param context The start of the error message, e.g. `Cannot create app "x"`.
 * @throws {TypeError} When it is not one.
 *
 * @example
 * ```ts
 * import { checkExecutor } from "./task_options.ts";
 *
 * checkExecutor({ execute: () => Promise.resolve() }, 'Cannot create app "x"'); // fine
 * ```
 */
export function checkExecutor(executor: unknown, context: string): void {
  if (
    executor === null || typeof executor !== "object" ||
    typeof (executor as { execute?: unknown }).execute !== "function"
  ) {
    throw new TypeError(`${context}: executor must be an object with an execute(run) method`);
  }
}

/**
 * Checks one middleware: a function `(call, next)`.
 *
 * @param middleware The middleware.
 * @param label What the message calls it, e.g. `Cannot add middleware: it`.
 * @throws {TypeError} When it is not a function.
 *
 * @example
 * ```ts
 * import { checkMiddleware } from "./task_options.ts";
 *
 * try {
 *   checkMiddleware(42, "Cannot add middleware: it");
 * } catch (error) {
 *   console.log((error as Error).message); // Cannot add middleware: it must be a function (call, next), got number
 * }
 * ```
 */
export function checkMiddleware(
  middleware: unknown,
  label: string,
): asserts middleware is TaskMiddleware {
  if (typeof middleware !== "function") {
    throw new TypeError(`${label} must be a function (call, next), got ${typeName(middleware)}`);
  }
}

/** No middlewares: one shared frozen empty list. */
const NO_MIDDLEWARES: readonly TaskMiddleware[] = Object.freeze([]);

/** Checks a list of middlewares and returns a frozen copy (the shared empty one for none). */
function checkMiddlewares(list: unknown, context: string): readonly TaskMiddleware[] {
  if (list === undefined) return NO_MIDDLEWARES;
  if (!Array.isArray(list)) {
    throw new TypeError(`${context} must be an array of functions`);
  }
  list.forEach((middleware, index) => checkMiddleware(middleware, `${context}[${index}]`));
  return list.length === 0 ? NO_MIDDLEWARES : Object.freeze([...list] as TaskMiddleware[]);
}

/** Checks the retry options of a task; returns the ones to keep on its definition. */
function checkRetry(
  options: TaskOptions,
  context: string,
): Pick<TaskDefinition, "retry" | "retryOn" | "backoff"> {
  const kept: { -readonly [K in "retry" | "retryOn" | "backoff"]?: TaskDefinition[K] } = {};
  const { retry, retryOn, backoff } = options;
  if (retry !== undefined) {
    if (!Number.isSafeInteger(retry) || retry < 0) {
      throw new RangeError(`${context}: retry must be an integer >= 0, got ${String(retry)}`);
    }
    if (retry > 0) kept.retry = retry;
  }
  if (retryOn !== undefined) {
    if (!Array.isArray(retryOn)) {
      throw new TypeError(`${context}: retryOn must be an array of error classes`);
    }
    retryOn.forEach((type, index) => {
      if (typeof type !== "function") {
        throw new TypeError(
          `${context}: retryOn[${index}] must be an error class, got ${typeName(type)}`,
        );
      }
    });
    kept.retryOn = Object.freeze([...retryOn]);
  }
  if (backoff !== undefined) {
    checkBackoff(backoff, context);
    kept.backoff = Object.freeze({ ...backoff });
  }
  return kept;
}

function typeName(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
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

/** Checks the `concurrency` option: a limit >= 1 (an integer) and an optional key function. */
function checkConcurrency(
  value: ConcurrencyLimit | undefined,
  context: string,
): ConcurrencyLimit | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null) {
    throw new TypeError(`${context}: concurrency must be an object { limit, key? }`);
  }
  const { limit, key } = value;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1) {
    throw new TypeError(
      `${context}: concurrency.limit must be an integer >= 1, got ${String(limit)}`,
    );
  }
  if (key !== undefined && typeof key !== "function") {
    throw new TypeError(`${context}: concurrency.key must be a function of the arguments`);
  }
  return Object.freeze(key === undefined ? { limit } : { limit, key });
}

/** Checks the `rateLimit` option: a limit and a window >= 1 (integers), an optional key function. */
function checkRateLimit(value: RateLimit | undefined, context: string): RateLimit | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null) {
    throw new TypeError(`${context}: rateLimit must be an object { limit, durationMs, key? }`);
  }
  const { limit, durationMs, key } = value;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1) {
    throw new TypeError(
      `${context}: rateLimit.limit must be an integer >= 1, got ${String(limit)}`,
    );
  }
  if (
    typeof durationMs !== "number" || !Number.isInteger(durationMs) || durationMs < 1 ||
    durationMs > 2_147_483_647
  ) {
    throw new TypeError(
      `${context}: rateLimit.durationMs must be an integer of milliseconds >= 1, got ${
        String(durationMs)
      }`,
    );
  }
  if (key !== undefined && typeof key !== "function") {
    throw new TypeError(`${context}: rateLimit.key must be a function of the arguments`);
  }
  return Object.freeze(key === undefined ? { limit, durationMs } : { limit, durationMs, key });
}

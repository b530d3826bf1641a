import { BackendError } from "../../model/errors/backend_error.ts";
import { ConfigError } from "../../model/errors/config_error.ts";
import { DeliveryLimitError } from "../../model/errors/delivery_limit_error.ts";
import { DuplicateTaskError } from "../../model/errors/duplicate_task_error.ts";
import { InvalidPayloadError } from "../../model/errors/invalid_payload_error.ts";
import { LeaseLostError } from "../../model/errors/lease_lost_error.ts";
import { QTasksError } from "../../model/errors/qtasks_error.ts";
import { ResultTimeoutError } from "../../model/errors/result_timeout_error.ts";
import { TaskCancelError } from "../../model/errors/task_cancel_error.ts";
import { TaskFailedError } from "../../model/errors/task_failed_error.ts";
import { TaskPluginTriggerError } from "../../model/errors/task_plugin_trigger_error.ts";
import { TaskTimeoutError } from "../../model/errors/task_timeout_error.ts";
import { ThreadCrashError } from "../../model/errors/thread_crash_error.ts";
import { UnknownTaskError } from "../../model/errors/unknown_task_error.ts";
import { UnrecoverableError } from "../../model/errors/unrecoverable_error.ts";
import { RateLimitedError } from "../../model/errors/rate_limited_error.ts";
import { ValidationError } from "../../model/errors/validation_error.ts";
import { WorkerShutdownError } from "../../model/errors/worker_shutdown_error.ts";
import { describeError } from "../../model/task_codec.ts";
import type { TaskErrorInfo } from "../../model/task_record.ts";

/**
 * An error class, as far as rebuilding goes: matched by its `name` on the thrown value's
 * prototype chain.
 */
type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * What was thrown in a pool thread, as data that crosses threads: the stored error fields, the
 * names of the classes on its prototype chain (most derived first), its other own fields when
 * they can be cloned, and its `cause`. A thrown value that is not an `Error` travels as itself
 * when it can be cloned.
 *
 * @example
 * ```ts
 * import type { ThreadErrorData } from "./_thread_error.ts";
 *
 * const data: ThreadErrorData = {
 *   info: { type: "TypeError", message: "bad" },
 *   chain: ["TypeError", "Error"],
 * };
 * ```
 */
export interface ThreadErrorData {
  /** The stored error fields (type, message, stack, code). */
  info: TaskErrorInfo;
  /** Class names on the prototype chain, most derived first (`["BadGateway", "HttpError", "Error"]`). */
  chain?: string[];
  /** Own fields other than name, message, stack and cause (`code`, `reason`, `issues`, …). */
  fields?: Record<string, unknown>;
  /** Its `cause`, when that is an Error (one level of nesting per level, up to 3). */
  cause?: ThreadErrorData;
  /** A thrown value that is not an Error, when it can be cloned. */
  value?: unknown;
  /** Whether `value` is set. */
  plain?: boolean;
  /**
   * Whether it is a QTasks error (`instanceof QTasksError`): only then is it rebuilt as a QTasks
   * class, so a library's own class that shares a name (`ValidationError`) stays itself.
   */
  qtasks?: boolean;
  /** The `errors` of an `AggregateError` (not an enumerable field), up to the same depth. */
  errors?: ThreadErrorData[];
}

/** QTasks' classes: rebuilt as themselves, only for errors marked `qtasks` when encoded. */
const QTASKS_CLASSES: readonly ErrorClass[] = [
  BackendError,
  ConfigError,
  DeliveryLimitError,
  DuplicateTaskError,
  InvalidPayloadError,
  LeaseLostError,
  QTasksError,
  RateLimitedError,
  ResultTimeoutError,
  TaskCancelError,
  TaskFailedError,
  TaskPluginTriggerError,
  TaskTimeoutError,
  ThreadCrashError,
  UnknownTaskError,
  UnrecoverableError,
  ValidationError,
  WorkerShutdownError,
];

/** The language's classes: rebuilt as themselves. */
const BUILTIN_CLASSES: readonly ErrorClass[] = [
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError,
];

const SKIPPED = new Set(["name", "message", "stack", "cause"]);

function canClone(value: unknown): boolean {
  if (value === null || typeof value !== "object" && typeof value !== "function") {
    return typeof value !== "symbol" && typeof value !== "function";
  }
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Turns what a task threw in a thread into {@linkcode ThreadErrorData}.
 *
 * @param thrown Any thrown value.
 * @param depth How deep in a `cause` chain this is (stops at 3).
 * @returns The data to post.
 *
 * @example
 * ```ts
 * import { encodeThreadError } from "./_thread_error.ts";
 *
 * console.log(encodeThreadError(new RangeError("too big")).chain); // ["RangeError", "Error"]
 * ```
 */
export function encodeThreadError(thrown: unknown, depth = 0): ThreadErrorData {
  const info = describeError(thrown);
  if (!(thrown instanceof Error)) {
    return canClone(thrown) ? { info, value: thrown, plain: true } : { info };
  }
  const chain: string[] = [];
  for (
    let proto = Object.getPrototypeOf(thrown);
    proto !== null && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === "string" && name !== "") chain.push(name);
  }
  const data: ThreadErrorData = { info, chain };
  if (thrown instanceof QTasksError) data.qtasks = true;
  if (thrown instanceof AggregateError && Array.isArray(thrown.errors) && depth < 3) {
    data.errors = thrown.errors.map((error: unknown) => encodeThreadError(error, depth + 1));
  }
  const fields: Record<string, unknown> = {};
  let any = false;
  for (const key of Object.keys(thrown)) {
    if (SKIPPED.has(key)) continue;
    const value = (thrown as unknown as Record<string, unknown>)[key];
    if (canClone(value)) {
      fields[key] = value;
      any = true;
    }
  }
  if (any) data.fields = fields;
  if (thrown.cause !== undefined && depth < 3) {
    data.cause = encodeThreadError(thrown.cause, depth + 1);
  }
  return data;
}

/**
 * Rebuilds what a thread threw: an instance of the most derived class on its prototype chain
 * that is known here (QTasks' errors when it was one in the thread, the built-in ones, and
 * `extra`: a task's `retryOn` classes), with its message, stack, name, other fields and an
 * `AggregateError`'s `errors`; so `instanceof` checks (`retryOn`, `UnrecoverableError`) behave
 * as in the thread. No constructor runs: the object is made from the class's prototype.
 *
 * @param data What {@linkcode encodeThreadError} produced.
 * @param extra More classes to recognise.
 * @returns The rebuilt error (or the thrown value itself, when it was not an Error).
 *
 * @example
 * ```ts
 * import { encodeThreadError, rebuildThreadError } from "./_thread_error.ts";
 *
 * class HttpError extends Error {}
 * class BadGateway extends HttpError {}
 * const data = encodeThreadError(new BadGateway("502"));
 * console.log(rebuildThreadError(data, [HttpError]) instanceof HttpError); // true
 * ```
 */
export function rebuildThreadError(
  data: ThreadErrorData,
  extra: readonly ErrorClass[] = [],
): unknown {
  if (data.plain) return data.value;
  if (data.chain === undefined) return new Error(data.info.message);
  let found: ErrorClass = Error;
  const lists = data.qtasks ? [extra, QTASKS_CLASSES, BUILTIN_CLASSES] : [extra, BUILTIN_CLASSES];
  search: for (const name of data.chain) {
    for (const known of lists) {
      const match = known.find((type) => type.name === name);
      if (match !== undefined) {
        found = match;
        break search;
      }
    }
  }
  const error = Object.create(found.prototype) as Error;
  const own = (key: string, value: unknown) =>
    Object.defineProperty(error, key, { value, writable: true, configurable: true });
  own("message", data.info.message);
  if (data.info.stack !== undefined) own("stack", data.info.stack);
  if (data.cause !== undefined) own("cause", rebuildThreadError(data.cause, extra));
  if (data.errors !== undefined) {
    own("errors", data.errors.map((error) => rebuildThreadError(error, extra)));
  }
  for (const [key, value] of Object.entries(data.fields ?? {})) {
    Object.defineProperty(error, key, {
      value,
      writable: true,
      configurable: true,
      enumerable: true,
    });
  }
  if (error.name !== data.info.type) own("name", data.info.type);
  return error;
}

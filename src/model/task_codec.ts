import { InvalidPayloadError } from "./errors/invalid_payload_error.ts";
import type { TaskErrorInfo, TaskRecord } from "./task_record.ts";
import { isTaskStatus } from "./task_status.ts";
import { parseFlowLink } from "./flow_link.ts";
import { parseStringList } from "./_flow_record.ts";
import { parseHeaders } from "./task_headers.ts";
import { parsePastDeliveries } from "./past_delivery.ts";
import type { TaskFields } from "./task_record.ts";

export type { TaskFields } from "./task_record.ts";

const KNOWN_FIELDS: ReadonlySet<string> = new Set([
  "task_name",
  "priority",
  "args",
  "kwargs",
  "created_at",
  "updated_at",
  "started_at",
  "finished_at",
  "status",
  "returning",
  "traceback",
  "error_type",
  "error_message",
  "error_code",
  "cancel_reason",
  "cancel_requested",
  "progress",
  "deliveries",
  "past_deliveries",
  "worker_id",
  "seq",
  "run_at",
  "queue",
  "expires_at",
  "conc_slot",
  "conc_limit",
  "rate_limit",
  "rate_deferred",
  "dedup_id",
  "retry",
  "retry_parent_uuid",
  "retry_child_uuid",
  "attempt",
  "flow",
  "headers",
  "flow_kind",
  "flow_steps",
  "flow_current",
  "flow_done",
  "flow_failed_uuid",
  "logs",
  "logs_dropped",
  "plain_claim",
]);

/**
 * Whether a record field name belongs to QTasks (and so cannot be set as an extra field).
 *
 * @param field A hash field name.
 * @returns `true` for `task_name`, `status`, `args`, `deliveries`, … .
 *
 * @example
 * ```ts
 * import { isReservedField } from "@qtasks/qtasks/ports";
 *
 * console.log(isReservedField("status")); // true
 * console.log(isReservedField("tenant")); // false
 * ```
 */
export function isReservedField(field: string): boolean {
  return KNOWN_FIELDS.has(field) || field.startsWith("flow_");
}

/**
 * Encodes a value as JSON for storage, failing with a clear error instead of storing something
 * that cannot be read back.
 *
 * @param value The value to encode.
 * @param what What the value is, for the error message (`'arguments of task "x"'`).
 * @returns The JSON text (`"null"` for `undefined`).
 * @throws {InvalidPayloadError} When the value cannot be encoded (BigInt, cycles, throwing toJSON)
 *   or JSON would change it silently (`NaN`, a `Date`, a `Map`, `undefined` in an array, …: see
 *   {@linkcode findLossy}); the message names the path of the bad value.
 *
 * @example
 * ```ts
 * import { encodeJson } from "@qtasks/qtasks/ports";
 *
 * console.log(encodeJson([1, "a"], "arguments")); // '[1,"a"]'
 * ```
 */
export function encodeJson(value: unknown, what: string): string {
  // A task that returns nothing: no walk, no JSON.stringify.
  if (value === undefined || value === null) return "null";
  const lossy = findLossy(value);
  if (lossy !== undefined) {
    throw new InvalidPayloadError(`Cannot encode the ${what} as JSON: ${lossy}`);
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw new InvalidPayloadError(
      `Cannot encode the ${what} as JSON: ${(cause as Error).message}`,
      { cause },
    );
  }
  return text ?? "null";
}

/** How deep {@linkcode findLossy} looks (deeper values are left to JSON.stringify). */
const LOSSY_DEPTH = 100;

/** What a value of a kind JSON cannot carry turns into, and what to pass instead. */
function lossyKind(value: object): string | undefined {
  if (value instanceof Date) {
    return "a Date, which JSON turns into a string (pass date.toISOString() or date.getTime())";
  }
  if (value instanceof Map) {
    return "a Map, which JSON turns into {} (pass Object.fromEntries(map) or [...map])";
  }
  if (value instanceof Set) return "a Set, which JSON turns into {} (pass [...set])";
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    return "binary data, which JSON turns into an object of indices (pass base64 text or an array of numbers)";
  }
  if (value instanceof RegExp || value instanceof WeakMap || value instanceof WeakSet) {
    return `a ${value.constructor.name}, which JSON turns into {}`;
  }
  const proto = Object.getPrototypeOf(value);
  if (
    proto !== null && proto !== Object.prototype && !Array.isArray(value) &&
    typeof (value as { toJSON?: unknown }).toJSON !== "function"
  ) {
    const name = (value as { constructor?: { name?: string } }).constructor?.name || "class";
    return `an instance of ${name}, which JSON turns into a plain object without its prototype (pass a plain object, or give the class a toJSON method)`;
  }
  return undefined;
}

function pathOf(path: readonly (string | number)[]): string {
  let text = "";
  for (const key of path) {
    text += typeof key === "number"
      ? `[${key}]`
      : /^[A-Za-z_$][\w$]*$/.test(key)
      ? `.${key}`
      : `[${JSON.stringify(key)}]`;
  }
  return text === "" ? "the value" : `the value at ${text.startsWith(".") ? text.slice(1) : text}`;
}

/**
 * Finds the first value JSON would change silently: `NaN` or `Infinity` (→ `null`), `undefined`
 * or a hole in an array (→ `null`), a function or symbol in an object or array (dropped or
 * `null`), a `Date` (→ a string), a `Map`, `Set` or `RegExp` (→ `{}`), binary data, and an
 * instance of a class without `toJSON` (→ a plain object). `undefined` alone (a task that
 * returns nothing) and `undefined` properties (absent either way) are fine.
 *
 * @param value Any value.
 * @returns What is wrong and where (`the value at [0].when is a Date, …`), or `undefined`.
 *
 * @example
 * ```ts
 * import { findLossy } from "./task_codec.ts";
 *
 * console.log(findLossy([{ when: new Date(0) }])?.startsWith("the value at [0].when is a Date")); // true
 * console.log(findLossy([1, "a", { b: null }])); // undefined
 * ```
 */
export function findLossy(value: unknown): string | undefined {
  const type = typeof value;
  if (type === "string" || type === "boolean" || value === null || value === undefined) {
    return undefined;
  }
  const path: (string | number)[] = [];
  const walk = (current: unknown, depth: number): string | undefined => {
    switch (typeof current) {
      case "number":
        return Number.isFinite(current)
          ? undefined
          : `${pathOf(path)} is ${current}, which JSON turns into null`;
      case "function":
      case "symbol":
        return `${pathOf(path)} is a ${typeof current}, which JSON drops`;
      case "object": {
        if (current === null || depth > LOSSY_DEPTH) return undefined;
        // Arrays and plain objects first: the common case, no instanceof chain.
        if (Array.isArray(current)) {
          for (let i = 0; i < current.length; i++) {
            const item = current[i];
            const type = typeof item;
            if (type === "string" || type === "boolean" || item === null) continue;
            path.push(i);
            const found = item === undefined
              ? `${pathOf(path)} is undefined, which JSON turns into null (pass null)`
              : walk(item, depth + 1);
            path.pop();
            if (found !== undefined) return found;
          }
          return undefined;
        }
        const proto = Object.getPrototypeOf(current);
        if (proto !== Object.prototype && proto !== null) {
          const kind = lossyKind(current);
          if (kind !== undefined) return `${pathOf(path)} is ${kind}`;
          return undefined; // an object with its own toJSON: its JSON is what it says
        }
        if (typeof (current as { toJSON?: unknown }).toJSON === "function") return undefined;
        for (const key in current) {
          const item = (current as Record<string, unknown>)[key];
          const type = typeof item;
          if (type === "string" || type === "boolean" || item === null || item === undefined) {
            continue;
          }
          path.push(key);
          const found = walk(item, depth + 1);
          path.pop();
          if (found !== undefined) return found;
        }
        return undefined;
      }
      default:
        return undefined;
    }
  };
  return walk(value, 0);
}

/**
 * Converts a unix time in milliseconds to the QTasks timestamp encoding (unix seconds).
 *
 * @param ms Milliseconds since the epoch.
 * @returns Seconds since the epoch as a decimal string.
 *
 * @example
 * ```ts
 * import { toUnixSeconds } from "./task_codec.ts";
 *
 * console.log(toUnixSeconds(1500)); // "1.500"
 * ```
 */
export function toUnixSeconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function toDate(seconds: string | undefined): Date | undefined {
  if (seconds === undefined || seconds === "") return undefined;
  const value = Number(seconds);
  return Number.isFinite(value) ? new Date(Math.round(value * 1000)) : undefined;
}

function parseJsonField(fields: TaskFields, name: string, fallback: unknown): unknown {
  const text = fields[name];
  if (text === undefined || text === "") return fallback;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Builds a {@linkcode TaskRecord} from the fields of a stored task hash.
 *
 * Values that are not valid JSON are kept as their raw strings rather than failing, so a record
 * written by another tool can always be read.
 *
 * @param uuid The task's id.
 * @param fields The hash fields.
 * @returns The record, or `undefined` when the hash is empty (no such task).
 *
 * @example
 * ```ts
 * import { decodeTaskRecord } from "@qtasks/qtasks/ports";
 *
 * const record = decodeTaskRecord("6f1c…", {
 *   task_name: "add",
 *   priority: "0",
 *   args: "[1,2]",
 *   kwargs: "{}",
 *   status: "success",
 *   returning: "3",
 *   created_at: "1700000000.000",
 *   updated_at: "1700000000.010",
 * });
 * console.log(record?.returning); // 3
 * ```
 */
export function decodeTaskRecord(uuid: string, fields: TaskFields): TaskRecord | undefined {
  if (fields.task_name === undefined && fields.status === undefined) return undefined;
  const statusText = fields.status ?? "new";
  const args = parseJsonField(fields, "args", []);
  const kwargs = parseJsonField(fields, "kwargs", {});
  const record: TaskRecord = {
    uuid,
    taskName: fields.task_name ?? "",
    priority: Number(fields.priority ?? 0) || 0,
    args: Array.isArray(args) ? args : [args],
    kwargs: kwargs !== null && typeof kwargs === "object" && !Array.isArray(kwargs)
      ? kwargs as Record<string, unknown>
      : {},
    status: isTaskStatus(statusText) ? statusText : "error",
    createdAt: toDate(fields.created_at) ?? new Date(0),
    updatedAt: toDate(fields.updated_at) ?? toDate(fields.created_at) ?? new Date(0),
    deliveries: Number(fields.deliveries ?? 0) || 0,
    attempt: Number(fields.attempt) || 1,
    extra: {},
  };
  const startedAt = toDate(fields.started_at);
  if (startedAt) record.startedAt = startedAt;
  const finishedAt = toDate(fields.finished_at);
  if (finishedAt) record.finishedAt = finishedAt;
  if (fields.returning !== undefined) record.returning = parseJsonField(fields, "returning", null);
  if (fields.error_type !== undefined || fields.traceback !== undefined) {
    const error: TaskErrorInfo = {
      type: fields.error_type ?? "Error",
      message: fields.error_message ?? "",
    };
    if (fields.traceback) error.stack = fields.traceback;
    if (fields.error_code) error.code = fields.error_code;
    record.error = error;
  }
  if (fields.cancel_reason !== undefined) record.cancelReason = fields.cancel_reason;
  if (fields.progress !== undefined) record.progress = parseJsonField(fields, "progress", null);
  if (fields.worker_id) record.workerId = fields.worker_id;
  const past = parsePastDeliveries(fields.past_deliveries);
  if (past !== undefined) record.pastDeliveries = past;
  const runAt = toDate(fields.run_at);
  if (runAt) record.runAt = runAt;
  if (fields.queue) record.queue = fields.queue;
  const expiresAt = toDate(fields.expires_at);
  if (expiresAt) record.expiresAt = expiresAt;
  if (fields.dedup_id) record.dedupId = fields.dedup_id;
  if (fields.retry !== undefined && fields.retry !== "") record.retry = Number(fields.retry) || 0;
  if (fields.retry_parent_uuid) record.retryParentUuid = fields.retry_parent_uuid;
  if (fields.retry_child_uuid) record.retryChildUuid = fields.retry_child_uuid;
  if (fields.flow !== undefined) {
    const link = parseFlowLink(fields.flow);
    if (link?.chain) record.chainUuid = link.chain;
    if (link?.group) {
      record.groupUuid = link.group.uuid;
      record.groupIndex = link.group.index;
    }
  }
  if (fields.flow_kind === "chain" || fields.flow_kind === "group") {
    record.flowKind = fields.flow_kind;
    record.flowSteps = parseStringList(fields.flow_steps);
  }
  if (fields.flow_current) record.flowCurrent = fields.flow_current;
  if (fields.flow_failed_uuid) record.flowFailedUuid = fields.flow_failed_uuid;
  const headers = parseHeaders(fields.headers);
  if (headers !== undefined) record.headers = headers;
  for (const [key, value] of Object.entries(fields)) {
    if (!isReservedField(key)) record.extra[key] = value;
  }
  return record;
}

/**
 * Encodes an error thrown by a task (any value) into the stored error fields.
 *
 * @param thrown What the task threw.
 * @returns The error information to store.
 *
 * @example
 * ```ts
 * import { describeError } from "@qtasks/qtasks/ports";
 *
 * console.log(describeError(new TypeError("bad")).type); // "TypeError"
 * console.log(describeError("plain string").type); // "string"
 * ```
 */
export function describeError(thrown: unknown): TaskErrorInfo {
  if (thrown instanceof Error) {
    const info: TaskErrorInfo = {
      type: thrown.name || thrown.constructor?.name || "Error",
      message: thrown.message,
    };
    if (thrown.stack) info.stack = thrown.stack;
    const code = (thrown as { code?: unknown }).code;
    if (typeof code === "string" || typeof code === "number") info.code = String(code);
    return info;
  }
  let message: string;
  try {
    message = typeof thrown === "string" ? thrown : JSON.stringify(thrown) ?? String(thrown);
  } catch {
    message = String(thrown);
  }
  return { type: thrown === null ? "null" : typeof thrown, message };
}

/**
 * Turns stored error information into the hash fields `error_type`, `error_message`,
 * `traceback` and `error_code`.
 *
 * @param error The error information.
 * @returns Field/value pairs.
 *
 * @example
 * ```ts
 * import { errorFields } from "@qtasks/qtasks/ports";
 *
 * console.log(errorFields({ type: "Error", message: "x" }));
 * ```
 */
export function errorFields(error: TaskErrorInfo): TaskFields {
  const fields: TaskFields = {
    error_type: error.type,
    error_message: error.message,
    traceback: error.stack ?? `${error.type}: ${error.message}`,
  };
  if (error.code !== undefined) fields.error_code = error.code;
  return fields;
}

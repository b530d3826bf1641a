/**
 * The argument checks of `QueueOperations`, shared by every backend, so that bad input gets the
 * same `TypeError` (naming the field) everywhere, before anything is read or written.
 *
 * @module
 */
import {
  checkLimit,
  checkTaskName,
  FINISHED_QUERY_STATUSES,
  isQueryStatus,
  type TaskEvent,
} from "../model/task_query.ts";
import type {
  CleanOptions,
  DrainOptions,
  PausedState,
  RetryAllFilter,
} from "./queue_operations.ts";

/** A checked {@linkcode RetryAllFilter}. */
export interface CheckedRetryAll {
  statuses: Array<"error" | "cancel">;
  taskName: string | undefined;
  sinceMs: number | undefined;
  limit: number;
}

/**
 * Checks a uuid argument.
 *
 * @throws {TypeError} When it is not a non-empty string.
 */
export function checkUuid(action: string, uuid: unknown): asserts uuid is string {
  if (typeof uuid !== "string" || uuid === "" || /[|\s]/.test(uuid)) {
    throw new TypeError(
      `Cannot ${action} task ${
        JSON.stringify(uuid)
      }: uuid must be a non-empty string without spaces or "|"`,
    );
  }
}

/**
 * Checks the task name argument of pause and resume.
 *
 * @throws {TypeError} Naming `taskName`.
 */
export function checkTaskNameArg(action: string, taskName: unknown): void {
  checkTaskName(action, taskName);
  if (taskName === "*") throw new TypeError(`Cannot ${action}: taskName "*" is reserved`);
}

/**
 * Checks a uuid prefix lookup.
 *
 * @throws {TypeError} Naming `prefix` or `limit`.
 */
export function checkFindPrefix(prefix: unknown, limit: unknown): void {
  if (typeof prefix !== "string" || prefix.length < 4 || /[|\s]/.test(prefix)) {
    throw new TypeError(
      `Cannot find tasks: prefix ${
        JSON.stringify(prefix)
      } must be at least 4 characters, without spaces or "|"`,
    );
  }
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new TypeError(
      `Cannot find tasks: limit ${String(limit)} is not an integer from 1 to 1000`,
    );
  }
}

/**
 * Checks a retryAll filter.
 *
 * @throws {TypeError} Naming the field.
 */
export function checkRetryAllFilter(filter: RetryAllFilter | undefined): CheckedRetryAll {
  if (filter === null || typeof filter !== "object") {
    throw new TypeError("Cannot retry tasks: the filter is not an object");
  }
  const { status, taskName, since, limit } = filter;
  if (status !== undefined && status !== "error" && status !== "cancel") {
    throw new TypeError(
      `Cannot retry tasks: status ${JSON.stringify(status)} is not "error" or "cancel"`,
    );
  }
  checkTaskName("retry tasks", taskName);
  if (since !== undefined && !(since instanceof Date && Number.isFinite(since.getTime()))) {
    throw new TypeError("Cannot retry tasks: since must be a valid Date");
  }
  return {
    statuses: status ? [status] : ["error", "cancel"],
    taskName,
    sinceMs: since?.getTime(),
    limit: checkLimit("retry tasks", limit),
  };
}

/**
 * Checks clean options.
 *
 * @throws {TypeError} Naming the field.
 */
export function checkCleanOptions(options: CleanOptions | undefined): {
  status: string;
  olderThanMs: number;
  taskName: string | undefined;
  limit: number;
} {
  if (options === null || typeof options !== "object") {
    throw new TypeError("Cannot clean tasks: the options are not an object");
  }
  const { status, olderThanMs, taskName, limit } = options;
  if (!isQueryStatus(status) || !FINISHED_QUERY_STATUSES.includes(status)) {
    throw new TypeError(
      `Cannot clean tasks: status ${JSON.stringify(status)} is not one of ${
        FINISHED_QUERY_STATUSES.join(", ")
      }`,
    );
  }
  if (
    olderThanMs !== undefined &&
    (typeof olderThanMs !== "number" || !Number.isFinite(olderThanMs) || olderThanMs < 0)
  ) {
    throw new TypeError(`Cannot clean tasks: olderThanMs ${String(olderThanMs)} is not a duration`);
  }
  checkTaskName("clean tasks", taskName);
  return {
    status,
    olderThanMs: olderThanMs ?? 0,
    taskName,
    limit: checkLimit("clean tasks", limit),
  };
}

/**
 * Checks drain options.
 *
 * @throws {TypeError} Naming the field.
 */
export function checkDrainOptions(options: DrainOptions | undefined): {
  taskName: string | undefined;
} {
  if (options === null || typeof options !== "object") {
    throw new TypeError("Cannot drain tasks: the options are not an object");
  }
  checkTaskName("drain tasks", options.taskName);
  return { taskName: options.taskName };
}

const EVENT_STATUSES: ReadonlySet<string> = new Set([
  "queued",
  "scheduled",
  "running",
  "success",
  "error",
  "cancel",
  "retry",
  "progress",
  "deleted",
  "new",
  "process",
]);

/**
 * Reads one message of the event stream (`{"uuid","taskName","status","at"}`); `undefined` for
 * anything else. Record statuses are turned into query statuses (`new` → `queued`, `process` →
 * `running`).
 */
export function parseTaskEvent(message: string): TaskEvent | undefined {
  let value: { uuid?: unknown; taskName?: unknown; status?: unknown; at?: unknown };
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (
    value === null || typeof value !== "object" || typeof value.uuid !== "string" ||
    typeof value.status !== "string" || !EVENT_STATUSES.has(value.status)
  ) return undefined;
  const status = value.status === "new"
    ? "queued"
    : value.status === "process"
    ? "running"
    : value.status as TaskEvent["status"];
  return {
    uuid: value.uuid,
    taskName: typeof value.taskName === "string" ? value.taskName : "",
    status,
    at: new Date(Number(value.at) || 0),
  };
}

/**
 * What is paused, from the names a backend keeps: `"*"` stands for the whole app, any other name
 * for one task name (sorted).
 */
export function pausedStateOf(names: readonly string[]): PausedState {
  return {
    app: names.includes("*"),
    taskNames: names.filter((name) => name !== "*").sort(),
  };
}

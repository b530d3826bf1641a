/**
 * What an operator asks of a queue and gets back: task queries and pages, counts, filters of the
 * bulk operations, the public event stream's events, task log lines and the paused state. The
 * port is `QueueOperations` (src/ports/queue_operations.ts); both backends implement it.
 *
 * @module
 */
import type { TaskRecord } from "./task_record.ts";

/**
 * The statuses an operator lists tasks by. A record's `new` status is split in two: `queued`
 * (waiting in the queue, claimable now) and `scheduled` (a delayed task or a retry not yet due);
 * `running` is the record status `process`; the final statuses keep their names.
 *
 * @example
 * ```ts
 * import type { QueryStatus } from "@qtasks/qtasks/ports";
 *
 * const status: QueryStatus = "error";
 * ```
 */
export type QueryStatus =
  | "queued"
  | "scheduled"
  | "running"
  | "success"
  | "error"
  | "cancel"
  | "retry";

/** Every {@linkcode QueryStatus}, live ones first. */
export const QUERY_STATUSES: readonly QueryStatus[] = Object.freeze([
  "queued",
  "scheduled",
  "running",
  "success",
  "error",
  "cancel",
  "retry",
]);

/** The statuses of finished records (what `clean` deletes). */
export const FINISHED_QUERY_STATUSES: readonly QueryStatus[] = Object.freeze([
  "success",
  "error",
  "cancel",
  "retry",
]);

/**
 * Whether `value` is a {@linkcode QueryStatus}.
 *
 * @param value Any text.
 * @returns `true` for `queued`, `scheduled`, `running`, `success`, `error`, `cancel`, `retry`.
 */
export function isQueryStatus(value: unknown): value is QueryStatus {
  return typeof value === "string" && (QUERY_STATUSES as readonly string[]).includes(value);
}

/**
 * A list query: by status, task name, both or neither; newest first (by enqueue order), a page
 * of `limit` records at a time, continued with the page's `cursor`.
 *
 * @example
 * ```ts
 * import type { TaskQuery } from "@qtasks/qtasks/ports";
 *
 * const failedEmails: TaskQuery = { status: "error", taskName: "send_email", limit: 50 };
 * ```
 */
export interface TaskQuery {
  /** Only records in this status (default: every status). */
  status?: QueryStatus;
  /** Only records of this task. */
  taskName?: string;
  /** Records per page: 1 to 1000 (default 50). */
  limit?: number;
  /** Where the previous page ended (its `cursor`); absent for the first page. */
  cursor?: string;
}

/**
 * One page of a {@linkcode TaskQuery}: the records, newest first, and the cursor of the next page.
 *
 * @example
 * ```ts
 * import type { TaskPage } from "@qtasks/qtasks/ports";
 *
 * const page: TaskPage = { records: [] };
 * console.log(page.cursor === undefined); // true: no more pages
 * ```
 */
export interface TaskPage {
  /** The records, newest first (at most `limit`). */
  records: TaskRecord[];
  /** Pass it as `cursor` to read the next page; absent on the last page. */
  cursor?: string;
}

/**
 * How many records each status holds, in all and per task name, and what is paused.
 *
 * @example
 * ```ts
 * import type { TaskCounts } from "@qtasks/qtasks/ports";
 *
 * function failed(counts: TaskCounts): number {
 *   return counts.byStatus.error;
 * }
 * ```
 */
export interface TaskCounts {
  /** Records per status. */
  byStatus: Record<QueryStatus, number>;
  /** Records per task name and status (only names that have records). */
  byTaskName: Record<string, Record<QueryStatus, number>>;
  /** What is paused. */
  paused: PausedState;
}

/**
 * What is paused: the whole app, and which task names.
 *
 * @example
 * ```ts
 * import type { PausedState } from "@qtasks/qtasks/ports";
 *
 * const state: PausedState = { app: false, taskNames: ["send_email"] };
 * ```
 */
export interface PausedState {
  /** Workers claim nothing at all. */
  app: boolean;
  /** Workers claim no task of these names (sorted). */
  taskNames: string[];
}

/**
 * Which failed records `retryAll` re-enqueues.
 *
 * @example
 * ```ts
 * import type { RetryAllFilter } from "@qtasks/qtasks/ports";
 *
 * const filter: RetryAllFilter = { taskName: "send_email", status: "error", since: new Date(0) };
 * ```
 */
export interface RetryAllFilter {
  /** Only this task's records. */
  taskName?: string;
  /** `error` or `cancel` (default: both). */
  status?: "error" | "cancel";
  /** Only records that finished at or after this time. */
  since?: Date;
  /** At most this many (default: all). */
  limit?: number;
}

/**
 * Which finished records `clean` deletes.
 *
 * @example
 * ```ts
 * import type { CleanOptions } from "@qtasks/qtasks/ports";
 *
 * const week: CleanOptions = { status: "success", olderThanMs: 7 * 86_400_000 };
 * ```
 */
export interface CleanOptions {
  /** A finished status: `success`, `error`, `cancel` or `retry`. */
  status: "success" | "error" | "cancel" | "retry";
  /** Only records that finished at least this long ago (default 0: all). */
  olderThanMs?: number;
  /** Only this task's records. */
  taskName?: string;
  /** At most this many (default: all). */
  limit?: number;
}

/**
 * Which waiting tasks `drain` removes (queued and scheduled ones; never running ones).
 *
 * @example
 * ```ts
 * import type { DrainOptions } from "@qtasks/qtasks/ports";
 *
 * const options: DrainOptions = { taskName: "report" };
 * ```
 */
export interface DrainOptions {
  /** Only this task's tasks. */
  taskName?: string;
}

/**
 * One event of the public event stream: a task changed status or reported progress.
 *
 * @example
 * ```ts
 * import type { TaskEvent } from "@qtasks/qtasks/ports";
 *
 * function show(event: TaskEvent): string {
 *   return `${event.at.toISOString()} ${event.taskName} ${event.uuid} ${event.status}`;
 * }
 * ```
 */
export interface TaskEvent {
  /** The task. */
  uuid: string;
  /** Its task name. */
  taskName: string;
  /**
   * Its new status (`queued` when enqueued or requeued, `scheduled`, `running` when a worker
   * started it, a final status), `progress` for a progress report, `deleted` when an operator
   * deleted, cleaned or drained it.
   */
  status: QueryStatus | "progress" | "deleted";
  /** When (backend time). */
  at: Date;
}

/**
 * The levels of a task log line (`ctx.log(message, level)`).
 *
 * @example
 * ```ts
 * import type { TaskLogLevel } from "@qtasks/qtasks/ports";
 *
 * const level: TaskLogLevel = "warn";
 * ```
 */
export type TaskLogLevel = "debug" | "info" | "warn" | "error";

/**
 * One line a task logged with `ctx.log`.
 *
 * @example
 * ```ts
 * import type { TaskLogLine } from "@qtasks/qtasks/ports";
 *
 * const line: TaskLogLine = { at: new Date(0), level: "info", message: "sent" };
 * ```
 */
export interface TaskLogLine {
  /** When (the worker's clock). */
  at: Date;
  /** Its level. */
  level: TaskLogLevel;
  /** The text. A marker line (level `warn`) says how many older lines were dropped. */
  message: string;
}

/** Default page size of a {@linkcode TaskQuery}. */
export const DEFAULT_PAGE = 50;
/** Largest page of a {@linkcode TaskQuery}. */
export const MAX_PAGE = 1000;

/** The checked form of a query: every field present. */
export interface CheckedQuery {
  status: QueryStatus | undefined;
  taskName: string | undefined;
  limit: number;
  /** Records with a sequence number below it (Infinity: from the newest). */
  before: number;
}

/**
 * Checks a query: a `TypeError` naming the field for a bad status, task name, limit or cursor.
 *
 * @param query The query as the caller gave it.
 * @returns Its checked form.
 * @throws {TypeError} Naming the field.
 */
export function checkTaskQuery(query: TaskQuery | undefined): CheckedQuery {
  if (query === undefined || query === null) query = {};
  if (typeof query !== "object") {
    throw new TypeError("Cannot list tasks: the query is not an object");
  }
  const { status, taskName, limit, cursor } = query;
  if (status !== undefined && !isQueryStatus(status)) {
    throw new TypeError(
      `Cannot list tasks: status ${JSON.stringify(status)} is not one of ${
        QUERY_STATUSES.join(", ")
      }`,
    );
  }
  checkTaskName("list tasks", taskName);
  if (
    limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)
  ) {
    throw new TypeError(
      `Cannot list tasks: limit ${String(limit)} is not an integer from 1 to ${MAX_PAGE}`,
    );
  }
  return {
    status,
    taskName,
    limit: limit ?? DEFAULT_PAGE,
    before: cursor === undefined ? Infinity : decodeCursor(cursor),
  };
}

/**
 * Checks an optional task name filter.
 *
 * @throws {TypeError} Naming `taskName` when it is not a non-empty string.
 */
export function checkTaskName(action: string, taskName: unknown): asserts taskName is
  | string
  | undefined {
  if (taskName !== undefined && (typeof taskName !== "string" || taskName === "")) {
    throw new TypeError(`Cannot ${action}: taskName must be a non-empty string`);
  }
}

/**
 * Checks an optional count limit.
 *
 * @throws {TypeError} Naming `limit` when it is not a positive integer.
 */
export function checkLimit(action: string, limit: unknown): number {
  if (limit === undefined) return Infinity;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1) {
    throw new TypeError(`Cannot ${action}: limit ${String(limit)} is not a positive integer`);
  }
  return limit;
}

/** A page's cursor: the sequence number of its last record. */
export function encodeCursor(seq: number): string {
  return `s${seq}`;
}

/**
 * The sequence number a cursor stands for.
 *
 * @throws {TypeError} Naming `cursor` when it was not made by {@linkcode encodeCursor}.
 */
export function decodeCursor(cursor: unknown): number {
  const match = typeof cursor === "string" ? /^s(\d{1,15})$/.exec(cursor) : null;
  if (!match) {
    throw new TypeError(
      `Cannot list tasks: cursor ${JSON.stringify(cursor)} is malformed (pass a page's cursor)`,
    );
  }
  return Number(match[1]);
}

/**
 * The query status of a record's fields: `new` is `queued` or `scheduled` (`run_at` in the
 * future), `process` is `running`.
 */
export function queryStatusOf(
  status: string | undefined,
  runAtSeconds: string | undefined,
  nowMs: number,
): QueryStatus | undefined {
  switch (status) {
    case "new":
      return runAtSeconds !== undefined && Number(runAtSeconds) * 1000 > nowMs
        ? "scheduled"
        : "queued";
    case "process":
      return "running";
    case "success":
    case "error":
    case "cancel":
    case "retry":
      return status;
    default:
      return undefined;
  }
}

/** Counts of zero for every status. */
export function zeroCounts(): Record<QueryStatus, number> {
  return {
    queued: 0,
    scheduled: 0,
    running: 0,
    success: 0,
    error: 0,
    cancel: 0,
    retry: 0,
  };
}

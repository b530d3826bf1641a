import type { TaskStatus } from "./task_status.ts";
import type { PastDelivery } from "./past_delivery.ts";

/**
 * An error as stored on a task record: the type (class name), message, stack and code of what
 * the task threw.
 *
 * @example
 * ```ts
 * import type { TaskErrorInfo } from "@qtasks/qtasks";
 *
 * const info: TaskErrorInfo = { type: "RangeError", message: "too big" };
 * console.log(info.type);
 * ```
 */
export interface TaskErrorInfo {
  /** The error's class name (`error.name`), or `typeof` of a thrown non-Error value. */
  type: string;
  /** The error's message. */
  message: string;
  /** The stack trace, stored in the QTasks field `traceback`. */
  stack?: string;
  /** The error's `code` property when it had one (for example `"TASK_TIMEOUT"`). */
  code?: string;
}

/**
 * Everything the Storage knows about one task: what was asked, its status, outcome and timings.
 *
 * @typeParam R The type of the task's return value.
 *
 * @example
 * ```ts
 * import { QueueTasks, type TaskRecord } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-record" });
 * const add = app.task("add", (a: number, b: number) => a + b);
 * await app.start();
 * const record: TaskRecord<number> = await (await add.addTask(1, 2)).result();
 * console.log(record.status, record.returning); // "success" 3
 * await app.stop();
 * ```
 */
export interface TaskRecord<R = unknown> {
  /** The task's id (a lowercase UUID v4). */
  uuid: string;
  /** The registered name of the task function. */
  taskName: string;
  /** Lower runs first. */
  priority: number;
  /** Positional arguments. */
  args: unknown[];
  /**
   * Keyword arguments, QTasks' `kwargs` field: `{}` for every task enqueued from TypeScript. Kept
   * so a record written by another producer with keyword arguments reads back whole; a worker
   * passes a non-empty `kwargs` object as the task's last argument (see docs/glossary.md).
   */
  kwargs: Record<string, unknown>;
  /** Current status. */
  status: TaskStatus;
  /** When the task was enqueued. */
  createdAt: Date;
  /** When the record last changed. */
  updatedAt: Date;
  /** When a worker last started it. */
  startedAt?: Date;
  /** When it reached a final status. */
  finishedAt?: Date;
  /** The return value, once the status is `success`. */
  returning?: R;
  /** What the task threw, once the status is `error`. */
  error?: TaskErrorInfo;
  /** Why it was cancelled, once the status is `cancel`. */
  cancelReason?: string;
  /** The last progress the task reported (`ctx.progress(value)`), if any: a JSON value. */
  progress?: unknown;
  /** How many times a worker has claimed it (1 on the first run). */
  deliveries: number;
  /** The worker that claimed it last. */
  workerId?: string;
  /**
   * The deliveries before the current one that ended without a settlement (a lease that expired, a
   * worker that gave the task back), oldest first, the last 20: absent
   * when every delivery so far settled (the usual case: one delivery).
   */
  pastDeliveries?: PastDelivery[];
  /** When a delayed task (or a retry) becomes claimable; absent for a task due at once. */
  runAt?: Date;
  /** Its named queue, when it went to one (absent: the default queue). */
  queue?: string;
  /** Its deadline, when it has one: not started by then, it ends as `cancel` (TaskExpiredError). */
  expiresAt?: Date;
  /**
   * Retries left (QTasks' `retry` field): on a record whose attempt failed and was retried, the
   * retries that were left (status `retry`); on a retry's record, those left after it.
   */
  retry?: number;
  /** On a retry's record: the record of the attempt before it. */
  retryParentUuid?: string;
  /** On a record with status `retry`: the record of the next attempt. */
  retryChildUuid?: string;
  /** Which attempt this record is: 1 for the first run, 2 for the first retry (as `ctx.attempt`). */
  attempt: number;
  /** On a task of a chain: the chain's record (its outcome is the chain's). */
  chainUuid?: string;
  /** On a task of a group: the group's record, whose result lists its members' results. */
  groupUuid?: string;
  /** On a task of a group: its place in the group (0 for the first). */
  groupIndex?: number;
  /** On the record of a chain or group (task name `@chain` or `@group`): which it is. */
  flowKind?: "chain" | "group";
  /** On the record of a chain: its steps' uuids in order (a group step: the group's record); of a group: its members'. */
  flowSteps?: string[];
  /** On the record of a chain: the step that runs now, or ran last. */
  flowCurrent?: string;
  /** On the record of a chain or group that failed: the task whose error or cancel ended it. */
  flowFailedUuid?: string;
  /**
   * Headers carried with the task (trace context such as W3C `traceparent`), when it has some:
   * the record's `headers` field, inherited by retries and the next steps of a flow.
   */
  headers?: Record<string, string>;
  /** Fields of the stored hash that QTasks does not define (plugins, extra task options). */
  extra: Record<string, string>;
}

/**
 * The fields of a stored task hash, with the names and string encodings of QTasks: `task_name`,
 * `priority`, `args` and `kwargs` as JSON, `created_at`/`updated_at` as unix seconds, `status`,
 * `returning` as JSON, `traceback`, plus QTasks-for-TypeScript fields documented in
 * docs/architecture.md.
 *
 * @example
 * ```ts
 * import type { TaskFields } from "@qtasks/qtasks/ports";
 *
 * const fields: TaskFields = { task_name: "add", status: "new" };
 * console.log(fields.task_name);
 * ```
 */
export type TaskFields = Record<string, string>;

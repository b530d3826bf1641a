import type { Deduplication } from "../ports/task_executor.ts";

/**
 * Per-call options of `addTask`.
 *
 * @example
 * ```ts
 * import type { AddTaskOptions } from "@qtasks/qtasks";
 *
 * const options: AddTaskOptions = { priority: -1 };
 * const later: AddTaskOptions = { delayMs: 60_000 }; // in one minute
 * const tonight: AddTaskOptions = { runAt: new Date("2030-01-01T22:00:00Z") };
 * ```
 */
export interface AddTaskOptions {
  /** Overrides the task's default priority for this call; lower runs first. */
  priority?: number;
  /** Overrides the task's named queue for this call (see docs/flow-control.md). */
  queue?: string;
  /** Extra string fields stored on the record. */
  extra?: Record<string, string>;
  /**
   * The task's uuid (a UUID, stored in lower case), as an idempotency key: adding a task whose
   * uuid exists already resolves with the existing task instead of adding a second one, and the
   * returned handle's `duplicate` is `true` (this call's arguments were dropped). The key is
   * remembered only while the record lives: once a finished record expires (`resultTtlMs`), the
   * same uuid adds and runs the task again. Default: a new random one.
   */
  uuid?: string;
  /**
   * Run no earlier than this many milliseconds from now (≥ 0). The record is stored at once, with
   * status `new` and `runAt`; workers claim the task once it is due. Not with `runAt`.
   */
  delayMs?: number;
  /**
   * Run no earlier than this time (a `Date` or milliseconds since the epoch); a time in the past
   * runs at once. Turned into a delay on the producer's clock when enqueued (`runAt` −
   * `Date.now()`), then scheduled at the backend's time (Redis server time) + that delay: a
   * producer whose clock is off by a minute runs the task a minute early or late. Keep producer
   * clocks synchronised (NTP). Not with `delayMs`.
   */
  runAt?: Date | number;
  /**
   * Your open transaction, on the PostgreSQL backend (a postgres.js transaction, as
   * `sql.begin(async (tx) => …)` gives it): the task is stored in it, so it becomes visible to
   * workers when your transaction commits and disappears if it rolls back. Another backend
   * refuses it with a `TypeError`. See docs/postgres.md.
   */
  tx?: unknown;
  /**
   * A deadline: a task not started within this many milliseconds of being stored (> 0; on the
   * backend's clock) ends as `cancel` with a `TaskExpiredError` (code `TASK_EXPIRED`) instead of
   * running late. Must be later than its delay. Not with `expiresAt`. See docs/flow-control.md.
   */
  expiresInMs?: number;
  /**
   * A deadline as a time (a `Date` or milliseconds since the epoch, in the future): turned into
   * `expiresInMs` on the producer's clock, like `runAt`. Not with `expiresInMs`.
   */
  expiresAt?: Date | number;
  /**
   * Deduplication for this call (it replaces the task's `deduplication` option; `false` turns
   * the task's off): while the id holds (`ttlMs`), a second call with the same id adds no task,
   * and its handle follows the first one (`deduplicated: true`, the first one's `uuid`).
   * `throttle` (default): the first call wins; `debounce`: the last one wins (it replaces the
   * waiting task's arguments). Only `addTask`: `addTasks`, chains and groups refuse it with a
   * `TypeError`. See docs/flow-control.md.
   */
  deduplication?: Deduplication | false;
}

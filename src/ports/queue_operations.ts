import type { TaskRecord } from "../model/task_record.ts";
import type {
  CleanOptions,
  DrainOptions,
  PausedState,
  RetryAllFilter,
  TaskCounts,
  TaskEvent,
  TaskLogLine,
  TaskPage,
  TaskQuery,
} from "../model/task_query.ts";

export type {
  CleanOptions,
  DrainOptions,
  PausedState,
  QueryStatus,
  RetryAllFilter,
  TaskCounts,
  TaskEvent,
  TaskLogLevel,
  TaskLogLine,
  TaskPage,
  TaskQuery,
} from "../model/task_query.ts";

/**
 * Options of {@linkcode QueueOperations.subscribe}.
 *
 * @example
 * ```ts
 * import type { SubscribeOptions } from "@qtasks/qtasks/ports";
 *
 * const options: SubscribeOptions = { taskNames: ["send_email"] };
 * ```
 */
export interface SubscribeOptions {
  /** Only events of these tasks (default: every task). */
  taskNames?: readonly string[];
  /**
   * Called when the stream was interrupted (the connection to the backend dropped and came
   * back): events of that gap are lost; re-read what you show with `list` or `counts`.
   */
  onGap?: () => void;
}

/**
 * The operator's port: query the tasks of an app, fix failures, pause and resume, follow the
 * event stream, read task logs. A Broker offers it as its optional `operations`; both backends
 * implement it and pass the contract suite in tests/contract/operations_contract.ts. The app
 * exposes it as `app.ops`, the command line as `qtasks list`, `retry`, `delete`, `clean`,
 * `drain`, `pause`, `resume`, `events` and `logs`.
 *
 * Every operation is atomic per task and safe while workers run: a retried task runs once, a
 * deleted or drained one never; a bulk operation (`retryAll`, `clean`, `drain`) works in chunks,
 * each one atomic, so an interruption leaves every task untouched or fully processed. An unknown
 * uuid is a documented result (`undefined` or `false`), never an exception.
 *
 * @example List the failed tasks of an app
 * ```ts
 * import { MemoryBroker } from "@qtasks/qtasks/memory";
 *
 * const broker = new MemoryBroker({ name: "demo-ops" });
 * const page = await broker.operations.list({ status: "error", limit: 20 });
 * console.log(page.records.length); // 0
 * ```
 */
export interface QueueOperations {
  /**
   * One page of records, newest first (by enqueue order), filtered by status, task name or
   * both. On Redis it reads indexes the scripts keep up to date (no scan of the keyspace).
   *
   * @throws {TypeError} Naming the field, for a bad status, task name, limit or cursor.
   */
  list(query?: TaskQuery): Promise<TaskPage>;
  /**
   * The records whose uuid starts with `prefix` (at least 4 characters), at most `limit`
   * (default 10), in uuid order.
   *
   * @throws {TypeError} When the prefix is shorter than 4 characters.
   */
  find(prefix: string, limit?: number): Promise<TaskRecord[]>;
  /** How many records each status holds, in all and per task name, and what is paused. */
  counts(): Promise<TaskCounts>;
  /**
   * Re-enqueues a failed (`error`) or cancelled task as a new attempt: a new record (uuid
   * `childUuid`, default a random one) linked to the old one, which gets status `retry` (so
   * `result()` on the old uuid follows it). Resolves with the new uuid, or `undefined` when no
   * record has this uuid.
   *
   * @throws {TaskStateError} When the task is queued, scheduled, running, succeeded or retried
   *   already (nothing changes).
   */
  retry(uuid: string, childUuid?: string): Promise<string | undefined>;
  /**
   * Retries every failed (and cancelled) record matching the filter, newest first; resolves
   * with how many were retried.
   *
   * @throws {TypeError} Naming the field of a bad filter.
   */
  retryAll(filter?: RetryAllFilter): Promise<number>;
  /**
   * Deletes a queued, scheduled or finished task (its record, queue entry and index entries; a
   * queued one will never run). Resolves `false` when no record has this uuid.
   *
   * @throws {TaskStateError} When the task is running (cancel it first).
   */
  delete(uuid: string): Promise<boolean>;
  /**
   * Deletes finished records of one status that finished at least `olderThanMs` ago; resolves
   * with how many.
   *
   * @throws {TypeError} Naming the field of bad options.
   */
  clean(options: CleanOptions): Promise<number>;
  /** Deletes every queued and scheduled task (never a running one); resolves with how many. */
  drain(options?: DrainOptions): Promise<number>;
  /**
   * Pauses the app (no `taskName`) or one task name: from the next exchange on, workers claim
   * nothing paused; running tasks finish, queued ones wait. Persisted in the backend.
   */
  pause(taskName?: string): Promise<void>;
  /** Resumes the app or a task name; its waiting tasks are claimable again at once. */
  resume(taskName?: string): Promise<void>;
  /** What is paused. */
  paused(): Promise<PausedState>;
  /**
   * Calls `listener` with every status change and progress report of the app's tasks, from any
   * process, from the moment the returned promise resolves until the returned function is
   * called. Guarantee: while connected, no event is missed and a task's events arrive in order;
   * after an interruption `onGap` is called (the gap's events are lost: re-read). Costs the
   * backend nothing while nobody subscribes.
   */
  subscribe(
    listener: (event: TaskEvent) => void,
    options?: SubscribeOptions,
  ): Promise<() => void>;
  /**
   * The lines a task logged with `ctx.log`, oldest first (a first `warn` line says how many
   * older ones were dropped by the cap); `undefined` when no record has this uuid.
   */
  logs(uuid: string): Promise<TaskLogLine[] | undefined>;
}

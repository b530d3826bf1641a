/**
 * The Broker port: what takes tasks in and hands them to workers under leases. The messages it
 * carries live in the model (`src/model/messages.ts`) and are re-exported here for backend authors.
 *
 * @module
 */
import type { ComponentContext } from "./component_context.ts";
import type { Storage } from "./storage.ts";
import type { TaskRecord } from "../model/task_record.ts";
import type { QueueStats } from "../model/queue_stats.ts";
import type { QueueOperations } from "./queue_operations.ts";
import type {
  AddOutcome,
  CancelOutcome,
  ExchangeRequest,
  ExchangeResult,
  Lease,
  LeaseRenewal,
  NewFlow,
  NewTask,
} from "../model/messages.ts";

export type { ComponentContext } from "./component_context.ts";
export type {
  AddOutcome,
  CancelOutcome,
  ClaimedTask,
  ExchangeRequest,
  ExchangeResult,
  Lease,
  LeaseRenewal,
  NewFlow,
  NewFlowRecord,
  NewTask,
  Settlement,
} from "../model/messages.ts";

/**
 * The Broker port: takes tasks in, saves them through its Storage, and hands them to workers
 * under leases. Implementations: {@linkcode MemoryBroker} and {@linkcode RedisBroker}; every
 * implementation passes the shared contract suite in tests/contract/.
 *
 * @example A broker that logs what it enqueues, around another one
 * ```ts
 * import { MemoryBroker } from "@qtasks/qtasks/memory";
 * import type { Broker, NewTask } from "@qtasks/qtasks/ports";
 *
 * const inner = new MemoryBroker();
 * const logging: Broker = {
 *   name: inner.name,
 *   storage: inner.storage,
 *   start: (context) => inner.start(context),
 *   stop: () => inner.stop(),
 *   add: (task: NewTask) => {
 *     console.log("enqueue", task.taskName);
 *     return inner.add(task); // passes a deduplicated add's outcome on
 *   },
 *   addBulk: (tasks) => inner.addBulk(tasks),
 *   addFlow: (flow) => inner.addFlow(flow),
 *   exchange: (request) => inner.exchange(request),
 *   extendLeases: (workerId, leases, leaseMs) => inner.extendLeases(workerId, leases, leaseMs),
 *   cancel: (uuid, reason, resultTtlMs) => inner.cancel(uuid, reason, resultTtlMs),
 *   watchCancellations: (listener) => inner.watchCancellations(listener),
 *   reportProgress: (workerId, uuid, deliveries, progress) =>
 *     inner.reportProgress(workerId, uuid, deliveries, progress),
 *   waitForTasks: (timeoutMs, signal, claim) => inner.waitForTasks(timeoutMs, signal, claim),
 *   get: (uuid) => inner.get(uuid),
 *   flushAll: () => inner.flushAll(),
 * };
 * ```
 */
export interface Broker {
  /** The app name: the namespace of every key. */
  readonly name: string;
  /** Where task records live. */
  readonly storage: Storage;
  /** Starts the broker, then its Storage (which starts its GlobalConfig). */
  start(context: ComponentContext): Promise<void>;
  /**
   * Optional: takes what it needs from `context` without starting anything, then attaches
   * its Storage (which attaches its GlobalConfig) (the app calls it once, when it is created, also in a producer that never calls
   * `app.start()`; `start` gets the same context again). The app's plugins need no attach: the
   * trigger decorator takes them.
   */
  attach?(context: ComponentContext): void;
  /** Stops the broker, then its Storage. Safe to call when not started. */
  stop(): Promise<void>;
  /**
   * Stores the record and queues the task, atomically; a task with `delayMs` goes to the schedule
   * instead, and each exchange moves the due ones into the queue. A task with `deduplication`
   * whose key is held resolves with the task it joined ({@linkcode AddOutcome}), storing nothing
   * under its own uuid; every other add resolves with nothing.
   */
  add(task: NewTask): Promise<AddOutcome | void>;
  /**
   * Stores and queues many tasks, atomically (all or none), in as few round trips as it can. A
   * task with `deduplication` is refused with a `TypeError` (only `add` takes it).
   */
  addBulk(tasks: NewTask[]): Promise<void>;
  /**
   * Stores a chain's or group's records and queues its first tasks, atomically (all or none; a
   * uuid that exists fails with `DuplicateTaskError`). Afterwards the broker runs the flow: when a
   * task with a `flow` field succeeds, the settle step queues the next one with the result as its
   * first argument (a group's members each store their result, and the last one to finish queues
   * the next step with all of them, in order); when one ends as `error` or `cancel`, its group and
   * chain end with that status and its error. Cancelling a flow record cancels its running steps.
   */
  addFlow(flow: NewFlow): Promise<void>;
  /**
   * Settles finished tasks (a `retry` settlement also creates the next attempt), recovers expired
   * leases, moves due scheduled tasks into the queue, and claims up to `want` tasks.
   */
  exchange(request: ExchangeRequest): Promise<ExchangeResult>;
  /** Renews leases; reports the ones lost and the held ones whose cancel was requested. */
  extendLeases(workerId: string, leases: Lease[], leaseMs: number): Promise<LeaseRenewal>;
  /**
   * Cancels a task: a queued or scheduled one at once (it never runs), a running one by telling
   * its worker (through {@linkcode Broker.watchCancellations} and lease renewals). On a record
   * with status `retry` it cancels the latest attempt of that chain.
   */
  cancel(uuid: string, reason: string, resultTtlMs: number): Promise<CancelOutcome>;
  /** Calls `listener` when a running task's cancel is requested; resolves with a remover. */
  watchCancellations(listener: (uuid: string, reason: string) => void): Promise<() => void>;
  /**
   * Stores a running task's progress (JSON text) in its record's `progress` field, atomically
   * with a lease check: only `workerId` holding delivery `deliveries` may write. Resolves `true`
   * when stored, `false` (nothing written) otherwise. Tells result waiters (Redis: publishes
   * `"<uuid> progress"` on the events channel).
   */
  reportProgress(
    workerId: string,
    uuid: string,
    deliveries: number,
    progress: string,
  ): Promise<boolean>;
  /**
   * Waits until tasks may be available, `timeoutMs` passes, or `signal` aborts: a blocking call,
   * never a sleep loop. Resolves in every case (a spurious wake-up is allowed). With `claim`, it
   * runs that exchange as soon as it wakes or times out (Redis: sent behind the blocking call, in
   * the same round trip) and resolves with its result; without, or when aborted, with
   * `undefined`.
   */
  waitForTasks(
    timeoutMs: number,
    signal: AbortSignal,
    claim?: ExchangeRequest,
  ): Promise<ExchangeResult | undefined>;
  /** Reads a task record through the Storage. */
  get(uuid: string): Promise<TaskRecord | undefined>;
  /** Deletes every queue, lease and record of this app. */
  flushAll(): Promise<void>;
  /**
   * Optional: true when `add`, `addBulk` and `addFlow` store a task given with `tx` (the caller's
   * open database transaction) inside that transaction. The app refuses `tx` otherwise.
   */
  readonly transactional?: boolean;
  /**
   * Optional: counts the queued tasks per priority, the quarantined, scheduled and claimed ones
   * (for `qtasks stats`).
   */
  queueStats?(): Promise<QueueStats>;
  /**
   * Optional: the operator's API (query, retry, delete, clean, drain, pause and resume, the event
   * stream, task logs), as `app.ops` and the `qtasks` commands use it.
   */
  readonly operations?: QueueOperations;
  /**
   * Optional: appends a line (JSON text, no newline) to a running task's log, atomically with a
   * lease check (only `workerId` holding delivery `deliveries` may write), keeping at most
   * `maxLines` lines and `maxBytes` bytes (the oldest are dropped and counted). Resolves `true`
   * when stored. `ctx.log` needs it.
   */
  appendLog?(
    workerId: string,
    uuid: string,
    deliveries: number,
    line: string,
    caps: { maxLines: number; maxBytes: number },
  ): Promise<boolean>;
}

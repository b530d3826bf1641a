import type { AppEvents } from "../events/app_events.ts";
import type { PluginHub } from "../plugins/plugin_hub.ts";
import type { QueueConfig } from "../config/queue_config.ts";
import type { Logger } from "../logging/logger.ts";
import type { Storage } from "../storage/storage.ts";
import type { TaskFields } from "../task/task_codec.ts";
import type { TaskErrorInfo, TaskRecord } from "../task/task_record.ts";
import type { QueueStats } from "../stats/queue_stats.ts";

/**
 * A task as a producer hands it to the Broker: already encoded, ready to store.
 *
 * @example
 * ```ts
 * import type { NewTask } from "@qtasks/qtasks";
 *
 * const task: NewTask = {
 *   uuid: crypto.randomUUID(),
 *   taskName: "add",
 *   priority: 0,
 *   args: "[1,2]",
 *   kwargs: "{}",
 *   extra: {},
 * };
 * ```
 */
export interface NewTask {
  /** The task's id, a lowercase UUID v4. */
  uuid: string;
  /** The registered task name. */
  taskName: string;
  /** Lower runs first; FIFO within one priority. An integer. */
  priority: number;
  /** Positional arguments as JSON text (an array). */
  args: string;
  /** Keyword arguments as JSON text (an object). */
  kwargs: string;
  /** Extra string fields stored on the record. */
  extra: TaskFields;
  /**
   * Claimable only this many milliseconds after it is stored (on the broker's clock: Redis server
   * time), when > 0; until then it waits in the schedule with status `new`.
   */
  delayMs?: number;
  /**
   * For a task of a chain or group: its `FlowLink` as JSON text, stored in the `flow`
   * field; the broker runs the rest of the flow when it finishes.
   */
  flow?: string;
}

/**
 * The record of a chain or a group, created with its first tasks by {@linkcode Broker.addFlow}:
 * it has status `process` until the flow ends, then the flow's outcome (the last result, or the
 * error or cancel that stopped it).
 *
 * @example
 * ```ts
 * import type { NewFlowRecord } from "@qtasks/qtasks";
 *
 * const chain: NewFlowRecord = { uuid: crypto.randomUUID(), kind: "chain", steps: [] };
 * ```
 */
export interface NewFlowRecord {
  /** The record's uuid: the flow's id. */
  uuid: string;
  /** What it is; its task name is `@chain` or `@group`. */
  kind: "chain" | "group";
  /** The uuids of its steps in order (a chain's group step: the group's uuid), or a group's members. */
  steps: string[];
  /** A chain's step running now (the first one). */
  current?: string;
}

/**
 * A chain or group to store and start, atomically: its records, and the tasks that run first
 * (each with its {@linkcode NewTask.flow}).
 *
 * @example
 * ```ts
 * import type { NewFlow } from "@qtasks/qtasks";
 *
 * const flow: NewFlow = { records: [], tasks: [] };
 * ```
 */
export interface NewFlow {
  /** The chain and group records. */
  records: NewFlowRecord[];
  /** The first tasks. */
  tasks: NewTask[];
}

/**
 * A task a worker has claimed: it owns it under a lease until it settles it or the lease
 * expires.
 *
 * @example
 * ```ts
 * import type { ClaimedTask } from "@qtasks/qtasks";
 *
 * function describe(task: ClaimedTask): string {
 *   return `${task.taskName} #${task.deliveries}`;
 * }
 * ```
 */
export interface ClaimedTask {
  /** The task's id. */
  uuid: string;
  /** The registered task name. */
  taskName: string;
  /** Its priority. */
  priority: number;
  /** Positional arguments as stored (JSON text); the worker decodes them. */
  args: string;
  /** Keyword arguments as stored (JSON text). */
  kwargs: string;
  /** How many times the task has been claimed, this claim included. It is the lease token. */
  deliveries: number;
  /**
   * Taken from the quarantine (its worker died holding it): run it alone, and claim nothing else
   * until it is settled, so that a task that kills its worker takes no other task with it.
   */
  isolated: boolean;
  /** Whether it is a task of a chain or group (its settlement runs the rest of the flow). */
  flow?: boolean;
  /** Which attempt this is, when it is a retry (2 for the first retry); absent on a first run. */
  attempt?: number;
  /** Retries left after this attempt, when the record says (a retry); absent on a first run. */
  retriesLeft?: number;
}

/**
 * How a worker settles a task it claimed.
 *
 * - `success` stores `returning` (JSON text).
 * - `error` stores the error.
 * - `cancel` stores the reason.
 * - `retry` stores the error with status `retry`, and in the same atomic step creates the next
 *   attempt: a new record `childUuid` (same task, arguments and extra fields; `retry` =
 *   `retriesLeft − 1`, linked both ways) that becomes claimable `delayMs` later.
 * - `release` gives the task back to the queue unchanged (used on shutdown).
 *
 * @example
 * ```ts
 * import type { Settlement } from "@qtasks/qtasks";
 *
 * const done: Settlement = { uuid: "…", deliveries: 1, status: "success", returning: "3" };
 * ```
 */
export type Settlement =
  | { uuid: string; deliveries: number; status: "success"; returning: string }
  | { uuid: string; deliveries: number; status: "error"; error: TaskErrorInfo }
  | { uuid: string; deliveries: number; status: "cancel"; reason: string }
  | {
    uuid: string;
    deliveries: number;
    status: "retry";
    /** What the failed attempt threw. */
    error: TaskErrorInfo;
    /** The uuid of the next attempt's record. */
    childUuid: string;
    /** How long until the next attempt is claimable, in milliseconds. */
    delayMs: number;
    /** Retries left before this one (≥ 1): stored as the failed record's `retry`. */
    retriesLeft: number;
  }
  | { uuid: string; deliveries: number; status: "release" };

/**
 * One exchange between a worker and the Broker: settle finished tasks and claim new ones, in a
 * single atomic step (one Redis round trip).
 *
 * @example
 * ```ts
 * import type { ExchangeRequest } from "@qtasks/qtasks";
 *
 * const request: ExchangeRequest = {
 *   workerId: "host:1:abc",
 *   settlements: [],
 *   want: 10,
 *   leaseMs: 30_000,
 *   resultTtlMs: 86_400_000,
 *   maxDeliveries: 5,
 *   recoverLimit: 100,
 * };
 * ```
 */
export interface ExchangeRequest {
  /** The claiming worker: owner of the leases. */
  workerId: string;
  /** Tasks to settle. Each must still be owned by this worker under the same delivery. */
  settlements: Settlement[];
  /** How many tasks to claim at most (0 to only settle). */
  want: number;
  /** How long a claimed task stays owned without renewal. */
  leaseMs: number;
  /** How long a finished record is kept. */
  resultTtlMs: number;
  /** After this many deliveries whose lease expired, a task ends as `error` instead of re-running. */
  maxDeliveries: number;
  /** How many expired leases to recover in this exchange at most. */
  recoverLimit: number;
  /** The worker runs nothing now: it may take one quarantined task (and then nothing else). */
  idle?: boolean;
}

/**
 * What an exchange did.
 *
 * @example
 * ```ts
 * import type { ExchangeResult } from "@qtasks/qtasks";
 *
 * function summary(result: ExchangeResult): string {
 *   return `${result.claimed.length} claimed, ${result.rejected.length} rejected`;
 * }
 * ```
 */
export interface ExchangeResult {
  /** The tasks now owned by the worker, in the order to run them. */
  claimed: ClaimedTask[];
  /** Settlements refused because the worker no longer owned the task (lease lost). */
  rejected: string[];
  /** Tasks whose lease had expired and that went back to the queue (or ended, past maxDeliveries). */
  recovered: number;
  /** Queue entries that pointed at no record and were dropped. */
  dropped: string[];
  /**
   * Tasks waiting in the quarantine: recovered from a dead worker, each to run alone on an idle
   * worker. A busy worker that sees some stops claiming until it is idle.
   */
  quarantined: number;
  /**
   * Milliseconds until the next scheduled task (delayed or a retry) is due, when there is one:
   * an idle worker blocks no longer than that.
   */
  nextDueMs?: number;
}

/**
 * A lease a worker holds on a claimed task.
 *
 * @example
 * ```ts
 * import type { Lease } from "@qtasks/qtasks";
 *
 * const lease: Lease = { uuid: "…", deliveries: 1 };
 * ```
 */
export interface Lease {
  /** The task. */
  uuid: string;
  /** The delivery that holds it (the token). */
  deliveries: number;
}

/**
 * What renewing leases found.
 *
 * @example
 * ```ts
 * import type { LeaseRenewal } from "@qtasks/qtasks";
 *
 * const renewal: LeaseRenewal = { lost: [], cancelled: [{ uuid: "…", reason: "withdrawn" }] };
 * ```
 */
export interface LeaseRenewal {
  /** Tasks whose lease this worker no longer holds (they were recovered and may run elsewhere). */
  lost: string[];
  /** Held tasks whose cancellation was requested: abort them. */
  cancelled: Array<{ uuid: string; reason: string }>;
}

/**
 * What `cancel` did: `cancelled` (the task was queued; it will never run), `cancelling` (it is
 * running; its worker is told to abort it and settles it as `cancel`), `finished` (it was
 * already final; nothing changed) or `missing` (no such task).
 *
 * @example
 * ```ts
 * import type { CancelOutcome } from "@qtasks/qtasks";
 *
 * const outcome: CancelOutcome = "cancelled";
 * ```
 */
export type CancelOutcome = "cancelled" | "cancelling" | "finished" | "missing";

/**
 * What a Broker, Storage or GlobalConfig receives when it starts.
 *
 * @example
 * ```ts
 * import { createLogger, parseQueueConfig, type ComponentContext } from "@qtasks/qtasks";
 *
 * const context: ComponentContext = { config: parseQueueConfig({}), logger: createLogger("info") };
 * ```
 */
export interface ComponentContext {
  /** The app's validated config. */
  config: QueueConfig;
  /** Where to log. */
  logger: Logger;
  /** The app's name. */
  appName?: string;
  /** The app's events. */
  events?: AppEvents;
  /** The app's plugins: components run their triggers and start and stop their plugins. */
  plugins?: PluginHub;
}

/**
 * The Broker port: takes tasks in, saves them through its Storage, and hands them to workers
 * under leases. Implementations: {@linkcode MemoryBroker} and {@linkcode RedisBroker}; every
 * implementation passes the shared contract suite in tests/contract/.
 *
 * @example A broker that logs what it enqueues, around another one
 * ```ts
 * import { MemoryBroker, type Broker, type NewTask } from "@qtasks/qtasks";
 *
 * const inner = new MemoryBroker();
 * const logging: Broker = {
 *   name: inner.name,
 *   storage: inner.storage,
 *   start: (context) => inner.start(context),
 *   stop: () => inner.stop(),
 *   add: async (task: NewTask) => {
 *     console.log("enqueue", task.taskName);
 *     await inner.add(task);
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
   * Optional: takes the app's plugins and name from `context` without starting anything, then its Storage (which attaches its GlobalConfig), so
   * that its triggers fire in a producer that never calls `app.start()`. The app calls it once,
   * when it is created; `start` binds the same context again.
   */
  attach?(context: ComponentContext): void;
  /** Stops the broker, then its Storage. Safe to call when not started. */
  stop(): Promise<void>;
  /**
   * Stores the record and queues the task, atomically; a task with `delayMs` goes to the schedule
   * instead, and each exchange moves the due ones into the queue.
   */
  add(task: NewTask): Promise<void>;
  /** Stores and queues many tasks, atomically (all or none), in as few round trips as it can. */
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
   * Optional: counts the queued tasks per priority, the quarantined, scheduled and claimed ones
   * (for `qtasks stats`).
   */
  queueStats?(): Promise<QueueStats>;
}

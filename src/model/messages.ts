/**
 * The messages that travel between the components: what a producer hands the Broker
 * ({@linkcode NewTask}, {@linkcode NewFlow}), what a worker claims ({@linkcode ClaimedTask}) and
 * settles ({@linkcode Settlement}) through an exchange, leases, and how a run ended
 * ({@linkcode TaskOutcome}). Plain data: the model layer, imported by the ports, the plugins and
 * every backend.
 *
 * @module
 */
import type { TaskErrorInfo, TaskFields } from "./task_record.ts";

/**
 * A task as a producer hands it to the Broker: already encoded, ready to store.
 *
 * @example
 * ```ts
 * import type { NewTask } from "@qtasks/qtasks/ports";
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
  /**
   * The caller's open transaction (PostgreSQL: a postgres.js `sql.begin` transaction): the task
   * is stored in it, visible when it commits, gone if it rolls back. Only a broker whose
   * `transactional` is true gets one.
   */
  tx?: unknown;
  /**
   * Headers carried with the task (stored as JSON in the record's reserved `headers` field): trace
   * context such as W3C `traceparent` and `tracestate`, put there by an instrumentation. The
   * worker gets them with the claim; a retry's record and the next steps of a chain or group
   * inherit them.
   */
  headers?: Record<string, string>;
  /**
   * The named queue it goes to, stored as the record's `queue` field; absent (or `default`): the
   * default queue. Only workers that consume this queue claim it.
   */
  queue?: string;
  /**
   * Its deadline, in milliseconds after it is stored (on the broker's clock: Redis server time),
   * when > 0: stored as the record's `expires_at` (unix seconds); a claim that finds it past its
   * deadline ends it as `cancel` with a `TaskExpiredError`'s fields instead of
   * running it.
   */
  expiresInMs?: number;
  /**
   * Its concurrency limit across workers: at most `limit` tasks of the same `slot` (the task
   * name, or the task name, ":" and the key) run at once. Stored as the record's `conc_slot` and
   * `conc_limit`; a claim that finds the slot full parks the task until a slot frees.
   */
  concurrency?: { slot: string; limit: number };
  /**
   * Its rate limit across workers: at most `limit` tasks of the same `slot` (the task name, or
   * the task name, ":" and the key) start per `durationMs`. Stored as the record's `rate_slot`,
   * `rate_limit` and `rate_ms`; a claim that finds the window full parks the task until it has
   * room.
   */
  rateLimit?: { slot: string; limit: number; durationMs: number };
}

/**
 * The record of a chain or a group, created with its first tasks by {@linkcode Broker.addFlow}:
 * it has status `process` until the flow ends, then the flow's outcome (the last result, or the
 * error or cancel that stopped it).
 *
 * @example
 * ```ts
 * import type { NewFlowRecord } from "@qtasks/qtasks/ports";
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
 * import type { NewFlow } from "@qtasks/qtasks/ports";
 *
 * const flow: NewFlow = { records: [], tasks: [] };
 * ```
 */
export interface NewFlow {
  /** The chain and group records. */
  records: NewFlowRecord[];
  /** The first tasks. */
  tasks: NewTask[];
  /**
   * The caller's open transaction (PostgreSQL: a postgres.js `sql.begin` transaction): the flow
   * is stored in it. Only a broker whose `transactional` is true gets one.
   */
  tx?: unknown;
}

/**
 * A task a worker has claimed: it owns it under a lease until it settles it or the lease
 * expires.
 *
 * @example
 * ```ts
 * import type { ClaimedTask } from "@qtasks/qtasks/ports";
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
  /** The headers the task carries ({@linkcode NewTask.headers}), when it has some. */
  headers?: Record<string, string>;
  /**
   * How long the task waited to be claimed, in milliseconds on the broker's clock (Redis server
   * time): from when it became due (its record's creation, or its `run_at` for a delayed task or
   * a retry) to this claim. Absent when the broker does not know.
   */
  waitedMs?: number;
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
 * - `release` gives the task back to the queue unchanged (used on shutdown); with `delayMs`
 *   (a remote rate limit, `RateLimitedError`) it becomes claimable that much later instead,
 *   as a delayed task (its `run_at` set), still without using a retry attempt.
 *
 * @example
 * ```ts
 * import type { Settlement } from "@qtasks/qtasks/ports";
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
  | {
    uuid: string;
    deliveries: number;
    status: "release";
    /** Claimable again this many milliseconds later (absent or 0: at once). */
    delayMs?: number;
  };

/**
 * One exchange between a worker and the Broker: settle finished tasks and claim new ones, in a
 * single atomic step (one Redis round trip).
 *
 * @example
 * ```ts
 * import type { ExchangeRequest } from "@qtasks/qtasks/ports";
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
  /** How long a failed or cancelled record is kept (default `resultTtlMs`). */
  failedTtlMs?: number;
  /** After this many deliveries whose lease expired, a task ends as `error` instead of re-running. */
  maxDeliveries: number;
  /** How many expired leases to recover in this exchange at most. */
  recoverLimit: number;
  /** The worker runs nothing now: it may take one quarantined task (and then nothing else). */
  idle?: boolean;
  /**
   * The queues to claim from, in the order to visit them (absent: the default queue alone). A
   * claim empties a queue before it takes from the next one; priorities hold within each.
   */
  queues?: string[];
  /**
   * The task names this worker knows: a task of another name in a named queue is left there
   * for a worker that knows it (absent: every name is taken). The default queue is not
   * filtered: a worker that consumes it is expected to know every task, and an unknown one
   * ends as `error` (UnknownTaskError), so that a typo is seen instead of waiting forever.
   */
  taskNames?: string[];
}

/**
 * What an exchange did.
 *
 * @example
 * ```ts
 * import type { ExchangeResult } from "@qtasks/qtasks/ports";
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
 * import type { Lease } from "@qtasks/qtasks/ports";
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
 * import type { LeaseRenewal } from "@qtasks/qtasks/ports";
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
 * import type { CancelOutcome } from "@qtasks/qtasks/ports";
 *
 * const outcome: CancelOutcome = "cancelled";
 * ```
 */
export type CancelOutcome = "cancelled" | "cancelling" | "finished" | "missing";

/**
 * How a run ended. `returning` is already JSON text.
 *
 * @example
 * ```ts
 * import type { TaskOutcome } from "@qtasks/qtasks/ports";
 *
 * const outcome: TaskOutcome = { status: "success", returning: "42" };
 * ```
 */
export type TaskOutcome =
  | { status: "success"; returning: string }
  | {
    status: "error";
    error: TaskErrorInfo;
    /** What was thrown, when known: the worker matches it against the task's `retryOn`. */
    thrown?: unknown;
  }
  | { status: "cancel"; reason: string };

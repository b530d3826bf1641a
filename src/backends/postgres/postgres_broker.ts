import { ATTEMPT_FIELDS } from "../../model/_attempt_fields.ts";
import { appendPastDelivery, type DeliveryEnd } from "../../model/past_delivery.ts";
import { DuplicateTaskError } from "../../model/errors/duplicate_task_error.ts";
import { DeliveryLimitError } from "../../model/errors/delivery_limit_error.ts";
import type { QueueStats } from "../../model/queue_stats.ts";
import { DEFAULT_QUEUE } from "../../model/queue_name.ts";
import { TaskExpiredError } from "../../model/errors/task_expired_error.ts";
import { appendLogLine } from "../../model/_task_log.ts";
import { parseHeaders } from "../../model/task_headers.ts";
import {
  type FlowLink,
  type FlowStep,
  type FlowTaskStep,
  isGroupStep,
  parseFlowLink,
  stepArgs,
} from "../../model/flow_link.ts";
import {
  FLOW_ERROR_FIELDS,
  flowRecordFields,
  flowRecordName,
  isFlowRunning,
  parseStringList,
} from "../../model/_flow_record.ts";
import { errorFields, type TaskFields, toUnixSeconds } from "../../model/task_codec.ts";
import type { TaskRecord } from "../../model/task_record.ts";
import type {
  AddOutcome,
  Broker,
  CancelOutcome,
  ClaimedTask,
  ComponentContext,
  ExchangeRequest,
  ExchangeResult,
  Lease,
  LeaseRenewal,
  NewFlow,
  NewTask,
  Settlement,
} from "../../ports/broker.ts";
import type { Queryable } from "./postgres_connection.ts";
import { PostgresBackendError } from "./postgres_error.ts";
import { BackendError } from "../../model/errors/backend_error.ts";
import { PgStep, storedEvents, storedLine } from "./_pg_step.ts";
import { insertFreshSql, insertTasksSql, taskColumns } from "./_enqueue_sql.ts";
import { repeatedTask } from "../../ports/_repeated_task.ts";
import {
  FAST_EXCHANGE_SHORT,
  type FastExchangeReply,
  fastExchangeSql,
  promoteDueSql,
} from "./_fast_exchange.ts";
import { CLAIMING_SQL, claimRecordsSql, pendingTextSql } from "./_pending_sql.ts";
import { type PostgresComponentOptions, PostgresGlobalConfig } from "./postgres_global_config.ts";
import { PostgresStorage } from "./postgres_storage.ts";
import { PostgresOperations } from "./postgres_operations.ts";
import { rateClaim, rateDueSql, rateSweep, rateWake } from "./_rate_limit_sql.ts";
import { dedupFind, dedupHold, dedupSweep } from "./_dedup_sql.ts";

/** Fields that describe one attempt, not the task: a retry's record starts without them. */
const ATTEMPT_FIELD_SET: ReadonlySet<string> = new Set(ATTEMPT_FIELDS);

/** Finished records deleted per pass of the retention sweep, at most. */
const SWEEP_LIMIT = 500;

/** Tasks of a bulk enqueue stored per statement, at most. */
const BULK_CHUNK = 1000;

/** SQLSTATE unique_violation: a bulk enqueue met a uuid that has a record. */
const UNIQUE_VIOLATION = "23505";

/** Tasks added in the same turn sent in one statement, at most. */
const ADD_BATCH = 500;

/** Pause (ms) before an enqueue that found no server is sent again. */
const ADD_RETRY_MS = 100;

/**
 * Tasks claimed by a broker between two of its vacuums of the hot tables, by default (see
 * {@linkcode PostgresBrokerOptions}).
 *
 * @example
 * ```ts
 * import { DEFAULT_VACUUM_EVERY } from "@qtasks/qtasks/postgres";
 *
 * console.log(DEFAULT_VACUUM_EVERY); // 10000
 * ```
 */
export const DEFAULT_VACUUM_EVERY = 10_000;

/** Two vacuums of the hot tables by one broker are this far apart (ms) at least. */
const VACUUM_GAP_MS = 10_000;

/** How often (ms) a broker's exchanges sweep expired records. */
const SWEEP_EVERY_MS = 1_000;

/**
 * A task with the caller's open transaction: `addTask(name, args, { tx })` passes it here, and
 * the task is stored in that transaction (visible on commit, gone on rollback).
 */
type WithTx = { tx?: unknown };

/**
 * The options of {@linkcode PostgresBroker}: those of every PostgreSQL component, the Storage to
 * use, and how often the broker vacuums the hot tables.
 *
 * @example
 * ```ts
 * import type { PostgresBrokerOptions } from "@qtasks/qtasks/postgres";
 *
 * const options: PostgresBrokerOptions = { url: "postgres://127.0.0.1/app", vacuumEvery: 50_000 };
 * ```
 */
export interface PostgresBrokerOptions extends PostgresComponentOptions {
  /** The Storage to use (its connection and schema); a new one when not given. */
  storage?: PostgresStorage;
  /**
   * Tasks this broker claims between two of its vacuums of the hot tables (`queue`, `leases`),
   * which it also vacuums when it first claims; 0: never (leave it to autovacuum). Default
   * {@linkcode DEFAULT_VACUUM_EVERY}.
   */
  vacuumEvery?: number;
}

/**
 * {@linkcode Broker} on PostgreSQL: records in `<schema>.records`, waiting tasks in the narrow
 * `<schema>.queue` table, claimed with `FOR UPDATE SKIP LOCKED`, running ones in
 * `<schema>.leases` with a deadline on the server's clock. Idle workers wait on LISTEN/NOTIFY;
 * result waiters are woken the same way. The same guarantees as the Redis broker (the shared
 * contract suite), plus transactional enqueue: `add` in the caller's open transaction.
 *
 * @example
 * ```ts ignore
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { PostgresBroker } from "@qtasks/qtasks/postgres";
 *
 * const broker = new PostgresBroker({ name: "pg-demo", url: "postgres://postgres@127.0.0.1:5432/test" });
 * const app = new QueueTasks({ name: "pg-demo", broker });
 * ```
 */
export class PostgresBroker implements Broker {
  /** The app name. */
  readonly name: string;
  /** Where records live. */
  readonly storage: PostgresStorage;
  /** The operator's API. */
  readonly operations: PostgresOperations;
  /** It stores a task given with `tx` in the caller's transaction. */
  readonly transactional = true;
  #waiters = new Set<() => void>();
  #wakes = 0;
  #wakesSeen = 0;
  #cancelListeners = new Set<(uuid: string, reason: string) => void>();
  #unlisten: (() => void) | undefined;
  #lastSweep = 0;
  #sweepBehind = false;
  #pending: Array<{
    task: NewTask;
    deadline: number;
    resolve: () => void;
    reject: (error: unknown) => void;
  }> = [];
  #adding: Promise<void> = Promise.resolve();
  /** When a rate-limited slot's window has room next, as the last exchange saw (0: unknown). */
  #rateDueAt = 0;
  #vacuumEvery: number;
  /** Tasks claimed since the last vacuum, and when it started (monotonic ms; none yet: -1). */
  #claimedSinceVacuum = 0;
  #vacuumedAt = -1;
  #vacuuming: Promise<void> | undefined;
  #logger: ComponentContext["logger"] | undefined;

  /**
   * Creates a PostgresBroker.
   *
   * @param options `name` (default `QueueTasks`), then `storage`, or `connection`, `sql` or
   *   `url` (and `schema`) for a new one; `vacuumEvery` (see {@linkcode PostgresBrokerOptions}).
   * @throws {RangeError} When `vacuumEvery` is not a whole number, 0 or more.
   */
  constructor(options: PostgresBrokerOptions = {}) {
    this.name = options.name ?? options.storage?.name ?? "QueueTasks";
    this.#vacuumEvery = options.vacuumEvery ?? DEFAULT_VACUUM_EVERY;
    if (!Number.isInteger(this.#vacuumEvery) || this.#vacuumEvery < 0) {
      throw new RangeError(
        `Cannot create the PostgreSQL broker: vacuumEvery must be a whole number of tasks, 0 or more (got ${options.vacuumEvery})`,
      );
    }
    this.storage = options.storage ??
      new PostgresStorage({
        ...options,
        name: this.name,
        globalConfig: new PostgresGlobalConfig({ ...options, name: this.name }),
      });
    this.operations = new PostgresOperations(this.storage);
  }

  /** The shared connection. */
  get connection(): PostgresStorage["connection"] {
    return this.storage.connection;
  }

  /** Checks the schema, listens for wake-ups, then starts the Storage. */
  async start(context: ComponentContext): Promise<void> {
    this.#logger = context.logger;
    await this.storage.start(context);
    await this.connection.ready();
    if (this.#unlisten === undefined) {
      this.#unlisten = await this.storage.onEvent((line) => {
        if (line[2] === "!wake") {
          this.#wakes++;
          for (const wake of [...this.#waiters]) wake();
        } else if (line[2] === "!cancel") {
          for (const listener of [...this.#cancelListeners]) listener(line[1], line[3]);
        }
      });
    }
  }

  /** Wakes every waiting worker, then stops the Storage. */
  async stop(): Promise<void> {
    for (const wake of [...this.#waiters]) wake();
    this.#unlisten?.();
    this.#unlisten = undefined;
    await this.#vacuuming;
    await this.storage.stop();
  }

  /**
   * Vacuums the hot tables (`queue` and `leases`) in the background when this broker first claims,
   * then after every `vacuumEvery` tasks it claimed, {@linkcode VACUUM_GAP_MS} apart at least.
   * Every task leaves a dead entry in both, at the head of the indexes the claims walk, until a
   * vacuum removes it; autovacuum comes once a minute at best (`autovacuum_naptime`). Measured:
   * a claim of one task took 0.55 ms on fresh tables and 1.15 ms once about 20,000 tasks had gone
   * through them. `SKIP_LOCKED`: a table another vacuum holds is skipped. A role that does not own
   * the tables gets a warning (not shown) and nothing is done; any failure is logged at debug
   * and changes nothing else.
   */
  #vacuumWhenDue(claimed: number): void {
    this.#claimedSinceVacuum += claimed;
    if (this.#vacuumEvery === 0 || this.#vacuuming !== undefined) return;
    const now = performance.now();
    if (this.#vacuumedAt >= 0) {
      if (this.#claimedSinceVacuum < this.#vacuumEvery) return;
      if (now - this.#vacuumedAt < VACUUM_GAP_MS) return;
    }
    this.#vacuumedAt = now;
    this.#claimedSinceVacuum = 0;
    const S = this.connection.s;
    this.#vacuuming = this.connection.sql.unsafe(`vacuum (skip_locked) ${S}.queue, ${S}.leases`)
      .then(() => {}, (error: unknown) => {
        this.#logger?.debug(`PostgreSQL broker: the vacuum of the hot tables failed: ${error}`);
      })
      .finally(() => this.#vacuuming = undefined);
  }

  /** Runs `body` in one transaction (the caller's, when given) and sends its events. */
  async #step<T>(body: (step: PgStep) => Promise<T>, tx?: unknown): Promise<T> {
    await this.connection.ready();
    return await this.connection.transaction(async (t) => {
      const step = await PgStep.begin(t, this.connection, this.name);
      const result = await body(step);
      await step.flush();
      return result;
    }, tx as Queryable | undefined);
  }

  /**
   * Queues the task, its record waiting in its queue entry until its first claim (in `task.tx`,
   * the caller's open transaction, when given: the record stored in `records`): one statement,
   * which also sends the task's event and the workers' wake-up (a second one, storing each task of
   * the turn's batch on its own, when the first meets a duplicate).
   */
  async add(task: NewTask): Promise<AddOutcome | void> {
    const tx = (task as WithTx).tx as Queryable | undefined;
    if (task.deduplication !== undefined) return await this.#addDeduplicated(task, tx);
    if (tx !== undefined) {
      await this.connection.ready();
      const rows = await this.#insertTasks(tx, [task], true);
      if (rows.length === 0) throw new DuplicateTaskError(task.taskName, task.uuid);
      return;
    }
    // Sent again while no server answers, until the connection's timeoutMs (backendTimeoutMs):
    // then a BackendError naming the uuid, as on Redis (add it again under that uuid).
    const deadline = Date.now() + this.connection.timeoutMs;
    for (let attempt = 0;; attempt++) {
      try {
        return await this.#withDeadline(this.#queueAdd(task, deadline), deadline);
      } catch (error) {
        // Stored by an earlier attempt whose reply was lost.
        if (attempt > 0 && error instanceof DuplicateTaskError) return;
        if (!(error instanceof PostgresBackendError) || error.code !== "PG_UNREACHABLE") {
          throw error;
        }
        if (Date.now() + ADD_RETRY_MS >= deadline) {
          throw new BackendError(
            `Cannot add task "${task.taskName}" (${task.uuid}): ${error.message}`,
            {
              cause: error,
              uuid: task.uuid,
              sent: error.sent,
            },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, ADD_RETRY_MS));
      }
    }
  }

  /**
   * Adds a task with `deduplication` (in `tx` when given): joins the task holding its key, or
   * stores it and gives it the key, in one transaction (see `_dedup_sql.ts`). Sent again while no
   * server answers, as `add`.
   */
  async #addDeduplicated(task: NewTask, tx: Queryable | undefined): Promise<AddOutcome | void> {
    const once = async () => {
      await this.connection.ready();
      return await this.connection.transaction(async (t) => {
        const found = await dedupFind(this.connection, t, this.name, task);
        if (found === "duplicate") throw new DuplicateTaskError(task.taskName, task.uuid);
        if (found.joined !== undefined) return { joined: found.joined };
        const rows = await this.#insertTasks(t, [task], true);
        if (rows.length === 0) throw new DuplicateTaskError(task.taskName, task.uuid);
        await dedupHold(this.connection, t, this.name, task);
      }, tx);
    };
    if (tx !== undefined) return await once();
    const deadline = Date.now() + this.connection.timeoutMs;
    for (let attempt = 0;; attempt++) {
      try {
        const outcome = await this.#withDeadline(once(), deadline);
        // Stored by an earlier attempt whose reply was lost: it holds its own key.
        return outcome?.joined === task.uuid ? undefined : outcome;
      } catch (error) {
        if (attempt > 0 && error instanceof DuplicateTaskError) return;
        if (
          !(error instanceof PostgresBackendError) || error.code !== "PG_UNREACHABLE" ||
          Date.now() + ADD_RETRY_MS >= deadline
        ) throw error;
        await new Promise((resolve) => setTimeout(resolve, ADD_RETRY_MS));
      }
    }
  }

  /**
   * Adds of the same turn go out together (see {@linkcode PostgresBroker.add}); one still waiting
   * for its batch at `deadline` (its caller was answered) is not sent.
   */
  #queueAdd(task: NewTask, deadline: number): Promise<void> {
    // In call order, in one statement (each row on its own: a duplicate fails alone); the next
    // batch waits for the one in flight (FIFO by seq).
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ task, deadline, resolve, reject });
      if (this.#pending.length === 1) queueMicrotask(() => this.#flushAdds());
    });
  }

  /** `promise`, or a PG_UNREACHABLE error (sent: it may still run) when `deadline` passes first. */
  #withDeadline<T>(promise: Promise<T>, deadline: number): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new PostgresBackendError(
            "PG_UNREACHABLE",
            `PostgreSQL at ${this.connection.label}: no reply within ${this.connection.timeoutMs} ms`,
            { sent: true },
          ),
        );
      }, Math.max(0, deadline - Date.now()));
    });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
  }

  #flushAdds(): void {
    const batch = this.#pending.splice(0, ADD_BATCH);
    if (this.#pending.length > 0) queueMicrotask(() => this.#flushAdds());
    // After the batch in flight, or after timeoutMs when it hangs (a connection the server cut
    // can leave a statement without an answer): one stuck batch never blocks the later ones.
    const previous = this.#withDeadline(this.#adding, Date.now() + this.connection.timeoutMs)
      .catch(() => {});
    this.#adding = previous.then(async () => {
      // The adds whose deadline passed while they waited were answered (a BackendError): they
      // are not sent any more. Sent anyway, each would still be stored later, and while no server
      // answers such batches pile up in the driver's queue, where the adds made once the server
      // is back wait behind them past their own deadlines, again and again.
      const now = Date.now();
      const live = batch.filter((each) => each.deadline > now);
      if (live.length === 0) return;
      try {
        const tasks = live.map((each) => each.task);
        // As a bulk enqueue: each record waits in its queue entry (one row written per task, not
        // two, and the events packed into few notifications); a batch that meets a uuid with a
        // record or an entry stores nothing there and goes the way below, which stores each task
        // on its own. Measured (issue 20, EXPLAIN ANALYZE, one task): 0.21 ms in the server
        // against 0.40 ms.
        if (await this.#storeFresh(tasks)) {
          for (const { resolve } of live) resolve();
          return;
        }
        const rows = await this.#insertTasks(this.connection.sql, tasks, true);
        const stored = new Set(rows.map((row) => row.uuid));
        for (const { task, resolve, reject } of live) {
          if (stored.has(task.uuid)) resolve();
          else reject(new DuplicateTaskError(task.taskName, task.uuid));
        }
      } catch (error) {
        for (const { reject } of live) reject(error);
      }
    });
  }

  /**
   * Inserts the records and queue entries of `tasks` in one statement (seq in their order);
   * returns the uuids stored: a uuid whose live record exists is skipped. With `notify`, the same
   * statement sends their events and the wake-up (one task: the payload stays small).
   */
  // deno-lint-ignore no-explicit-any
  #insertTasks(on: Queryable, tasks: NewTask[], notify: boolean): Promise<any[]> {
    const { params } = taskColumns(tasks);
    return this.connection.run(on, insertTasksSql(this.connection.s, notify), [
      this.name,
      ...params,
      ...(notify ? [this.connection.channel] : []),
    ]);
  }

  /** Stores many tasks and their events in `step` (all or none: a duplicate throws). */
  async #storeAll(step: PgStep, tasks: NewTask[]): Promise<void> {
    for (let start = 0; start < tasks.length; start += BULK_CHUNK) {
      const chunk = tasks.slice(start, start + BULK_CHUNK);
      const rows = await this.#insertTasks(step.tx, chunk, false);
      if (rows.length < chunk.length) {
        const stored = new Set(rows.map((row) => row.uuid));
        const duplicate = chunk.find((task) => !stored.has(task.uuid))!;
        throw new DuplicateTaskError(duplicate.taskName, duplicate.uuid);
      }
      for (const row of rows) {
        step.events.push(storedLine(this.name, row.uuid, row.delay, row.task_name));
      }
    }
    if (tasks.length > 0) step.wake();
  }

  /**
   * Stores many tasks that must all be new, with their events, in one statement per
   * {@linkcode BULK_CHUNK} tasks (several: in one transaction, sent together). A uuid that has a
   * record or a queue entry, or that the batch names twice, stores nothing: resolves `false`, and
   * the caller stores the batch the slow way (`addBulk`: {@linkcode PostgresBroker.#storeAll}, all
   * or none; the adds of a turn: each on its own), which replaces an expired record and names a
   * live duplicate.
   */
  async #storeFresh(tasks: NewTask[]): Promise<boolean> {
    await this.connection.ready();
    const sql = insertFreshSql(this.connection.s);
    const statements: Array<{ params: unknown[] }> = [];
    for (let start = 0; start < tasks.length; start += BULK_CHUNK) {
      const chunk = tasks.slice(start, start + BULK_CHUNK);
      const { params, delays } = taskColumns(chunk);
      const events = storedEvents(this.name, chunk, delays, start + BULK_CHUNK >= tasks.length);
      statements.push({ params: [this.name, ...params, this.connection.channel, events] });
    }
    // A chunk that finds a uuid with a record stores nothing; with several chunks, that rolls
    // back the others too (`taken`, thrown out of their transaction).
    let taken: Error | undefined;
    try {
      if (statements.length === 1) {
        const [row] = await this.connection.run(this.connection.sql, sql, statements[0].params);
        return !row.taken;
      }
      taken = new Error("a uuid of the batch has a record");
      await this.connection.transaction(async (tx) => {
        const rows = await Promise.all(
          statements.map(({ params }) => this.connection.run(tx, sql, params)),
        );
        if (rows.some(([row]) => row.taken)) throw taken;
      });
      return true;
    } catch (error) {
      if (error === taken) return false;
      if (error instanceof PostgresBackendError && error.sqlState === UNIQUE_VIOLATION) {
        return false;
      }
      throw error;
    }
  }

  /** Stores and queues many tasks in one transaction (all or none). */
  addBulk(tasks: NewTask[]): Promise<void> {
    for (const task of tasks) {
      if (task.deduplication !== undefined) return Promise.reject(refusal(task, "addBulk"));
    }
    const repeated = repeatedTask(tasks);
    if (repeated !== undefined) {
      return Promise.reject(new DuplicateTaskError(repeated.taskName, repeated.uuid));
    }
    const tx = tasks.find((task) => (task as WithTx).tx !== undefined) as WithTx | undefined;
    if (tx !== undefined || tasks.length === 0) {
      return this.#step((step) => this.#storeAll(step, tasks), tx?.tx);
    }
    // All new (the common case): one statement per chunk, events included. A uuid that exists
    // (a duplicate, or an expired record of the same uuid): the batch again, skipping and naming.
    return this.#storeFresh(tasks).then((stored) =>
      stored ? undefined : this.#step((step) => this.#storeAll(step, tasks))
    );
  }

  /** Stores a chain's or group's records and queues its first tasks (all or none). */
  addFlow(flow: NewFlow): Promise<void> {
    const refused = flow.tasks.find((task) => task.deduplication !== undefined);
    if (refused !== undefined) return Promise.reject(refusal(refused, "addFlow"));
    const repeated = repeatedTask([...flow.records.map(flowRecordName), ...flow.tasks]);
    if (repeated !== undefined) {
      return Promise.reject(new DuplicateTaskError(repeated.taskName, repeated.uuid));
    }
    return this.#step(async (step) => {
      const stamp = toUnixSeconds(step.nowMs);
      for (const record of flow.records) {
        const seq = await step.insert(record.uuid, flowRecordFields(record, stamp));
        if (seq === undefined) {
          throw new DuplicateTaskError(flowRecordName(record).taskName, record.uuid);
        }
      }
      await this.#storeAll(step, flow.tasks);
    }, (flow as WithTx).tx);
  }

  /**
   * Settles, recovers expired leases and claims, in one transaction: the common case in one call
   * of the server-side function `qt_exchange` (one round trip), the rest on the general path.
   */
  exchange(request: ExchangeRequest): Promise<ExchangeResult> {
    this.#wakesSeen = this.#wakes;
    if (request.settlements.every(isPlain)) return this.#fastExchange(request);
    return this.#step((step) => this.#exchange(step, request));
  }

  /**
   * The exchange in one call of `qt_exchange` (see `_fast_exchange.ts`); what it leaves (a
   * fallback, or claims it met a limited or expired task in) goes through the general path.
   */
  async #fastExchange(request: ExchangeRequest): Promise<ExchangeResult> {
    await this.connection.ready();
    const plain = request.settlements as PlainSettlement[];
    const failedTtl = request.failedTtlMs ?? request.resultTtlMs;
    const clock = Date.now();
    const timed = clock - this.#lastSweep >= SWEEP_EVERY_MS;
    const sweep = this.#sweepBehind || timed;
    let reply: FastExchangeReply;
    try {
      const rows = await this.connection.run(
        this.connection.sql,
        fastExchangeSql(this.connection.s),
        [
          this.name,
          request.workerId,
          plain.map((each) => each.uuid),
          plain.map((each) => each.deliveries),
          plain.map((each) => JSON.stringify(outcomeFields(each))),
          plain.map((each) => each.status === "success" ? request.resultTtlMs : failedTtl),
          Math.max(0, request.want),
          request.leaseMs,
          request.queues ?? [DEFAULT_QUEUE],
          request.taskNames ?? null,
          request.recoverLimit > 0,
          sweep ? SWEEP_LIMIT : 0,
          timed,
          this.connection.channel,
        ],
      );
      reply = rows[0].reply as FastExchangeReply;
    } catch (error) {
      // A settlement it had checked was not stored (nothing was): the general path decides.
      if (error instanceof PostgresBackendError && error.sqlState === FAST_EXCHANGE_SHORT) {
        return await this.#step((step) => this.#exchange(step, request));
      }
      throw error;
    }
    if (reply.fallback) {
      // The reason may be a rate-limited slot whose window has room: let the general path look.
      this.#rateDueAt = 0;
      return await this.#step((step) => this.#exchange(step, request));
    }
    if (timed) this.#lastSweep = clock;
    if (sweep) this.#sweepBehind = reply.swept >= SWEEP_LIMIT;
    if (request.want > 0) this.#vacuumWhenDue(reply.claimed.length);
    if (reply.parked) await this.#step((step) => this.#unparkSweep(step));
    // A rate-limited slot's window opening counts as a due time (its parked tasks go back then).
    this.#rateDueAt = reply.rate_due ?? Infinity;
    const claimed = reply.claimed.map((each) =>
      claimedTask(each.uuid, each.priority, each.due, each.fields, false, reply.now)
    );
    const result: ExchangeResult = {
      claimed,
      rejected: [],
      recovered: 0,
      dropped: reply.dropped,
      quarantined: reply.quarantined,
    };
    const due = Math.min(reply.next_due ?? Infinity, this.#rateDueAt);
    if (due !== Infinity) result.nextDueMs = Math.max(1, Math.ceil(due - reply.now));
    if (!reply.rest || claimed.length >= request.want) return result;
    // A task with a deadline, a concurrency or a rate limit: the rest of the claim, in a second
    // step.
    const more = await this.#step((step) =>
      this.#exchange(step, {
        ...request,
        settlements: [],
        want: request.want - claimed.length,
        idle: request.idle === true && claimed.length === 0,
      })
    );
    return {
      ...more,
      claimed: claimed.concat(more.claimed),
      dropped: result.dropped.concat(more.dropped),
    };
  }

  async #exchange(step: PgStep, request: ExchangeRequest): Promise<ExchangeResult> {
    const S = this.connection.s;
    const now = step.nowMs;
    const stamp = toUnixSeconds(now);
    const rejected: string[] = [];
    const failedTtl = request.failedTtlMs ?? request.resultTtlMs;
    // Plain final settlements (success, error, cancel of a task outside a flow) in one statement;
    // the rest (retries, releases, flow steps, re-sent or lost ones) one by one below.
    const plain = request.settlements.filter(isPlain);
    const slow = new Set<Settlement>(
      request.settlements.filter((each) => !(plain as Settlement[]).includes(each)),
    );
    const held = new Set<string>();
    // The concurrency slots whose running tasks this exchange ends (settled or recovered).
    const freed = new Set<string>();
    if (plain.length > 0) {
      const patches = plain.map((settlement) =>
        JSON.stringify({ ...outcomeFields(settlement), updated_at: stamp, finished_at: stamp })
      );
      const rows = await step.run(
        `with s as (
           select * from unnest($2::text[], $3::int[], $4::text[], $5::float8[])
             as s(uuid, deliveries, patch, ttl)),
         held as (
           delete from ${S}.leases l using s
           where l.app = $1 and l.uuid = s.uuid and l.worker_id = $6 and l.deliveries = s.deliveries
           returning l.uuid, l.conc_slot),
         done as (
           update ${S}.records r set fields = r.fields || s.patch::jsonb,
             expires_at = clock_timestamp() + s.ttl * interval '1 millisecond'
           from s join held h using (uuid)
           where r.app = $1 and r.uuid = s.uuid and not (r.fields ? 'flow')
           returning r.uuid, r.task_name)
         select s.uuid, h.uuid is not null as held, d.uuid is not null as done, d.task_name,
           h.conc_slot
         from s left join held h using (uuid) left join done d using (uuid)`,
        [
          this.name,
          plain.map((each) => each.uuid),
          plain.map((each) => each.deliveries),
          patches,
          plain.map((each) => each.status === "success" ? request.resultTtlMs : failedTtl),
          request.workerId,
        ],
      );
      const byUuid = new Map(plain.map((each) => [each.uuid, each]));
      for (const row of rows) {
        const settlement = byUuid.get(row.uuid)!;
        if (row.conc_slot !== null) freed.add(row.conc_slot);
        if (row.done) {
          step.events.push([
            this.name,
            row.uuid,
            settlement.status,
            settlement.status,
            row.task_name ?? "",
          ]);
          continue;
        }
        if (row.held) held.add(row.uuid);
        slow.add(settlement);
      }
    }
    for (const settlement of request.settlements) {
      if (!slow.has(settlement)) continue;
      let leased = held.has(settlement.uuid);
      if (!leased) {
        const lease = await step.run(
          `delete from ${S}.leases where app = $1 and uuid = $2 and worker_id = $3 and deliveries = $4 returning conc_slot`,
          [this.name, settlement.uuid, request.workerId, settlement.deliveries],
        );
        leased = lease.length > 0;
        if (leased && lease[0].conc_slot !== null) freed.add(lease[0].conc_slot);
      }
      if (!leased) {
        const fields = await step.fields(settlement.uuid);
        const done = fields !== undefined && fields.worker_id === request.workerId &&
          fields.deliveries === String(settlement.deliveries) &&
          fields.status === settlement.status && fields.error_code !== "DELIVERY_LIMIT";
        if (!done) rejected.push(settlement.uuid);
        continue;
      }
      if (settlement.status === "release") {
        await this.#requeue(step, settlement.uuid, stamp, "released", settlement.delayMs);
        continue;
      }
      const fields: TaskFields = {
        status: settlement.status,
        updated_at: stamp,
        finished_at: stamp,
      };
      if (settlement.status === "success") fields.returning = settlement.returning;
      else if (settlement.status === "cancel") fields.cancel_reason = settlement.reason;
      else Object.assign(fields, errorFields(settlement.error));
      if (settlement.status === "retry") {
        await this.#retry(step, settlement, fields, request.resultTtlMs);
      } else {
        await this.#finish(
          step,
          settlement.uuid,
          fields,
          settlement.status === "success" ? request.resultTtlMs : failedTtl,
        );
      }
    }

    const expired = await step.run(
      `delete from ${S}.leases where (app, uuid) in (
         select app, uuid from ${S}.leases where app = $1 and deadline <= to_timestamp($2::float8 / 1000.0)
         order by deadline limit $3 for update skip locked)
       returning uuid, deliveries, conc_slot`,
      [this.name, now, request.recoverLimit],
    );
    for (const { uuid, deliveries, conc_slot } of expired) {
      if (conc_slot !== null) freed.add(conc_slot);
      const fields = await step.fields(uuid);
      if (fields === undefined) continue;
      if (fields.cancel_requested !== undefined) {
        await this.#finish(step, uuid, {
          status: "cancel",
          cancel_reason: fields.cancel_requested,
          updated_at: stamp,
          finished_at: stamp,
        }, failedTtl);
      } else if (deliveries - (Number(fields.rate_deferred) || 0) >= request.maxDeliveries) {
        // Deferrals for a remote rate limit (a release with a delay) are not failed deliveries.
        await this.#finish(step, uuid, {
          status: "error",
          updated_at: stamp,
          finished_at: stamp,
          ...deliveryLimitFields(deliveries),
        }, failedTtl);
      } else {
        await this.#requeue(step, uuid, stamp, "expired");
      }
    }

    // Slots freed above: under their locks (taken in one order: two exchanges never wait on each
    // other in a cycle), their first parked tasks go back to their queues.
    if (freed.size > 0) await this.#kickSlots(step, [...freed].sort(), true);

    const claimed: ClaimedTask[] = [];
    const dropped: string[] = [];
    const queues = request.queues ?? [DEFAULT_QUEUE];
    const claim: ClaimState = {
      claimed,
      dropped,
      skip: [],
      kick: new Set(),
      locked: new Set(),
      rated: new Map(),
    };
    // Rate-limited slots whose window has room again: their parked tasks back to their queues.
    if (this.#rateDueAt <= now && await rateWake(step) > 0) step.wake();
    if (request.want > 0) {
      // Scheduled entries now due join the claim index first (the rest, if any, next time: the
      // state below then says tasks are waiting).
      // The claims below may delete pending entries: they insert their records (see
      // `_pending_sql.ts`).
      await step.run(
        `with promoted as (${promoteDueSql(S, "$1", "to_timestamp($2::float8 / 1000.0)")})
         select ${CLAIMING_SQL}`,
        [this.name, now],
      );
      // Dropped entries (no record) and parked ones do not count: claim again until `want` or no
      // entry is left.
      let isolated = 0;
      for (let round = 0; request.idle && isolated === 0 && round < 10; round++) {
        const { taken, again } = await this.#claim(step, request, 1, queues, claim);
        isolated = taken;
        if (!again) break;
      }
      for (const queue of isolated === 0 ? queues : []) {
        for (let round = 0; claimed.length < request.want && round < 10; round++) {
          const { again } = await this.#claim(
            step,
            request,
            request.want - claimed.length,
            queue,
            claim,
          );
          if (!again) break;
        }
        if (claimed.length >= request.want) break;
      }
    }
    // Expired tasks of a slot ended above may have been its next ones: the slot's room goes on.
    if (claim.kick.size > 0) await this.#kickSlots(step, [...claim.kick].sort(), false);
    const [state] = await step.run(
      `select
         (select count(*) from ${S}.queue where app = $1 and quarantine)::int as quarantined,
         (select extract(epoch from min(due_at)) * 1000 from ${S}.queue
            where app = $1 and later and due_at > to_timestamp($2::float8 / 1000.0))::float8
           as next_due,
         ${rateDueSql(S)} as rate_due,
         exists (select 1 from ${S}.queue where app = $1 and due_at <= to_timestamp($2::float8 / 1000.0)
           and not parked and not later and qname = any($3::text[])
           and (qname = 'default' or $4::text[] is null or task_name = any($4::text[])))
         or exists (select 1 from ${S}.queue where app = $1 and later
           and due_at <= to_timestamp($2::float8 / 1000.0)) as waiting`,
      [this.name, now, queues, request.taskNames ?? null],
    );
    if (expired.length > 0 || state.waiting) step.wake();
    // Retention: a sweep per second, or at every exchange while a full batch was deleted (so
    // that deletions keep up with any processing rate).
    if (this.#sweepBehind || now - this.#lastSweep >= SWEEP_EVERY_MS) {
      const timed = now - this.#lastSweep >= SWEEP_EVERY_MS;
      if (timed) this.#lastSweep = now;
      this.#sweepBehind = await this.storage.sweep(step.tx, SWEEP_LIMIT) >= SWEEP_LIMIT;
      if (timed) {
        await this.#unparkSweep(step);
        await rateSweep(step);
        await dedupSweep(this.connection, step.tx, this.name);
      }
    }
    const result: ExchangeResult = {
      claimed,
      rejected,
      recovered: expired.length,
      dropped,
      quarantined: state.quarantined,
    };
    // A rate-limited slot's window opening counts as a due time (its parked tasks go back then).
    this.#rateDueAt = state.rate_due ?? Infinity;
    const due = Math.min(state.next_due ?? Infinity, this.#rateDueAt);
    if (due !== Infinity) result.nextDueMs = Math.max(1, Math.ceil(due - now));
    return result;
  }

  /**
   * Claims up to `limit` due tasks of one queue (`queue`), or of the quarantine (`queues`: the
   * entries of those queues only). Tasks without a deadline or a concurrency limit are claimed in
   * one statement; a limited one takes its slot under the slot's advisory lock, or is parked when
   * the slot is full; an expired one ends as `cancel`.
   *
   * @returns How many it took, and whether to claim again (entries dropped, parked or ended).
   */
  async #claim(
    step: PgStep,
    request: ExchangeRequest,
    limit: number,
    queue: string | string[],
    state: ClaimState,
  ): Promise<{ taken: number; again: boolean }> {
    const S = this.connection.s;
    const isolated = Array.isArray(queue);
    const stamp = toUnixSeconds(step.nowMs);
    // A named queue holds only the tasks this worker knows (the default one every task).
    const known = !isolated && queue !== DEFAULT_QUEUE ? request.taskNames ?? null : null;
    const rows = await step.run(
      `with cand as (
         select c.uuid, c.priority, c.seq, (extract(epoch from c.due_at) * 1000)::float8 as due,
           c.conc_slot, c.conc_limit, c.rate_slot, c.rate_limit, c.rate_ms,
           coalesce(c.deadline <= to_timestamp($3::float8 / 1000.0), false) as expired
         from ${S}.queue c
         where c.app = $1 and c.quarantine = $2 and not c.parked and not c.later
           and ${isolated ? "c.qname = any($8::text[])" : "c.qname = $8::text"}
           and c.due_at <= to_timestamp($3::float8 / 1000.0)
           and ($9::text[] is null or c.task_name = any($9::text[]))
           and c.uuid <> all($10::text[])
           and not exists (select 1 from ${S}.paused p where p.app = $1 and p.name in ('*', c.task_name))
         order by c.priority, c.seq limit $4 for update skip locked),
       picked as (
         delete from ${S}.queue q using cand k
         where q.app = $1 and q.uuid = k.uuid
           and ((k.conc_slot is null and k.rate_slot is null) or k.expired)
         returning q.uuid, ${pendingTextSql("q")} as fields),
       ${takeSql(S, "picked p join cand k using (uuid)", "not k.expired", "null")}
       select k.uuid, k.priority, k.seq, k.due, k.conc_slot, k.conc_limit, k.rate_slot,
         k.rate_limit, k.rate_ms, k.expired,
         p.uuid is not null as picked, u.fields
       from cand k left join picked p using (uuid) left join updated u using (uuid)
       order by k.priority, k.seq`,
      [
        this.name,
        isolated,
        step.nowMs,
        limit,
        request.workerId,
        stamp,
        request.leaseMs,
        queue,
        known,
        state.skip,
      ],
    );
    // The rate-limited entries: claimed or parked together, one statement per slot.
    const rated = await rateClaim(
      step,
      takeSql(S, "picked p", "true", "$4"),
      rows.filter((row) => !row.picked && !row.expired),
      { rated: state.rated, skip: state.skip },
      (slot) => this.#lockSlot(step, slot, state),
      request.workerId,
      request.leaseMs,
    );
    let taken = 0;
    let again = false;
    for (const row of rows) {
      let fields = row.fields as TaskFields | null;
      if (row.expired) {
        again = true;
        const current = await step.fields(row.uuid);
        if (current?.status !== "new") {
          dropped(state, row.uuid);
          continue;
        }
        // Not started by its deadline: it ends as cancel instead of running late.
        await this.#finish(step, row.uuid, {
          status: "cancel",
          cancel_reason: "expired",
          ...expiredFields(),
          updated_at: stamp,
          finished_at: stamp,
        }, request.failedTtlMs ?? request.resultTtlMs);
        if (row.conc_slot !== null) state.kick.add(row.conc_slot);
        continue;
      }
      if (!row.picked) {
        // A concurrency-limited task: its slot is locked by this transaction (or it waits).
        const slot: string | null = row.conc_slot;
        if (slot !== null && row.rate_slot === null && !await this.#lockSlot(step, slot, state)) {
          // Another exchange holds the slot: left queued for the next claim.
          state.skip.push(row.uuid);
          continue;
        }
        if (row.rate_slot !== null) {
          // A rate-limited task: claimed or parked above (absent: its slot busy, left queued).
          const taken = rated.get(row.uuid);
          if (taken === undefined) continue;
          if (taken.parked) {
            again = true;
            continue;
          }
          fields = taken.fields as TaskFields | null;
        } else {
          const [result] = await step.run(
            `with room as (
             select count(*) < $8::int as ok from ${S}.leases where app = $1 and conc_slot = $4),
           picked as (
             delete from ${S}.queue q where q.app = $1 and q.uuid = $2 and (select ok from room)
             returning q.uuid, ${pendingTextSql("q")} as fields),
           parked as (
             update ${S}.queue q set parked = true, quarantine = false
             where q.app = $1 and q.uuid = $2 and not (select ok from room)
             returning q.uuid),
           ${takeSql(S, "picked p", "true", "$4")}
           select (select ok from room) as ok, (select count(*) from picked)::int as picked,
             (select fields from updated) as fields`,
            [
              this.name,
              row.uuid,
              step.nowMs,
              slot,
              request.workerId,
              stamp,
              request.leaseMs,
              Number(row.conc_limit) || 1,
            ],
          );
          if (!result.ok) {
            again = true;
            continue;
          }
          fields = result.fields as TaskFields | null;
        }
      }
      if (!fields) {
        again = true;
        dropped(state, row.uuid);
        continue;
      }
      const task = claimedTask(row.uuid, row.priority, row.due, fields, isolated, step.nowMs);
      step.events.push([this.name, row.uuid, "process", "running", task.taskName]);
      state.claimed.push(task);
      taken++;
    }
    return { taken, again };
  }

  /** Tries a concurrency slot's lock (once per transaction): false when another holds it. */
  async #lockSlot(step: PgStep, slot: string, state: ClaimState): Promise<boolean> {
    if (state.locked.has(slot)) return true;
    const [lock] = await step.run(`select pg_try_advisory_xact_lock(${slotKey()}) as ok`, [
      this.name,
      slot,
    ]);
    if (lock.ok) state.locked.add(slot);
    return lock.ok;
  }

  /**
   * Moves the first parked tasks of these slots back to their queues, as many as each slot has
   * room for. With `wait`, it first takes the slots' locks (in the order given); without, it
   * kicks only the slots whose lock it gets at once (the others: by their holder or the sweep).
   */
  async #kickSlots(step: PgStep, slots: string[], wait: boolean): Promise<void> {
    const S = this.connection.s;
    const [lock] = await step.run(
      `select coalesce(array_agg(s.slot order by s.n), '{}') as slots
       from unnest($2::text[]) with ordinality as s(slot, n)
       where ${
        wait
          ? `pg_advisory_xact_lock(${slotKey("s.slot")}) is not null`
          : `pg_try_advisory_xact_lock(${slotKey("s.slot")})`
      }`,
      [this.name, slots],
    );
    if (lock.slots.length === 0) return;
    const rows = await step.run(
      `update ${S}.queue q set parked = false from (
         select k.uuid from unnest($2::text[]) as s(slot)
         cross join lateral (
           select count(*)::int as running from ${S}.leases l where l.app = $1 and l.conc_slot = s.slot) r
         cross join lateral (
           select p.conc_limit from ${S}.queue p where p.app = $1 and p.parked and not p.rate_parked
             and p.conc_slot = s.slot
           order by p.priority, p.seq limit 1) f
         cross join lateral (
           select p.uuid from ${S}.queue p where p.app = $1 and p.parked and not p.rate_parked
             and p.conc_slot = s.slot
           order by p.priority, p.seq limit greatest(0, coalesce(f.conc_limit, 1) - r.running)) k) k
       where q.app = $1 and q.uuid = k.uuid
       returning q.uuid`,
      [this.name, lock.slots],
    );
    if (rows.length > 0) step.wake();
  }

  /**
   * The safety net of the concurrency limits: a slot with room and parked tasks (its last
   * kick missed, its lock being held then) gets them back. One index probe when none is parked.
   */
  async #unparkSweep(step: PgStep): Promise<void> {
    const rows = await step.run(
      `select distinct conc_slot from (
         select conc_slot from ${this.connection.s}.queue
         where app = $1 and parked and not rate_parked limit 10000) p
       limit 100`,
      [this.name],
    );
    if (rows.length > 0) {
      await this.#kickSlots(step, rows.map((row) => row.conc_slot).sort(), false);
    }
  }

  /** Settles a failed attempt as `retry` and creates the next attempt's record. */
  async #retry(
    step: PgStep,
    settlement: Extract<Settlement, { status: "retry" }>,
    fields: TaskFields,
    ttlMs: number,
  ): Promise<void> {
    const parent = await step.fields(settlement.uuid);
    const child = settlement.childUuid;
    if (
      !parent || parent.task_name === undefined || parent.cancel_requested !== undefined ||
      await step.fields(child)
    ) {
      await this.#finish(step, settlement.uuid, { ...fields, status: "error" }, ttlMs);
      return;
    }
    const delay = Math.max(0, Math.ceil(settlement.delayMs));
    const stamp = toUnixSeconds(step.nowMs);
    const copy: TaskFields = {};
    for (const [field, value] of Object.entries(parent)) {
      if (!ATTEMPT_FIELD_SET.has(field)) copy[field] = value;
    }
    const record: TaskFields = {
      ...copy,
      status: "new",
      created_at: stamp,
      updated_at: stamp,
      deliveries: "0",
      retry: String(settlement.retriesLeft - 1),
      retry_parent_uuid: settlement.uuid,
      attempt: String((Number(parent.attempt) || 1) + 1),
    };
    if (delay > 0) record.run_at = toUnixSeconds(step.nowMs + delay);
    const seq = await step.insert(child, record);
    await this.#finish(step, settlement.uuid, {
      ...fields,
      retry: String(settlement.retriesLeft),
      retry_child_uuid: child,
    }, ttlMs + delay);
    if (seq !== undefined) {
      await step.enqueue({
        uuid: child,
        priority: Number(parent.priority) || 0,
        seq,
        taskName: parent.task_name,
      }, delay);
    }
  }

  /** Renews leases still held by `workerId`; reports lost ones and requested cancels. */
  async extendLeases(workerId: string, leases: Lease[], leaseMs: number): Promise<LeaseRenewal> {
    const renewal: LeaseRenewal = { lost: [], cancelled: [] };
    if (leases.length === 0) return renewal;
    await this.connection.ready();
    const S = this.connection.s;
    const rows = await this.connection.run(
      this.connection.sql,
      `with wanted as (select * from unnest($2::text[], $3::int[]) as w(uuid, deliveries)),
       renewed as (
         update ${S}.leases l set deadline = clock_timestamp() + $5::float8 * interval '1 millisecond'
         from wanted w
         where l.app = $1 and l.uuid = w.uuid and l.worker_id = $4 and l.deliveries = w.deliveries
         returning l.uuid)
       select r.uuid, rec.fields->>'cancel_requested' as reason
       from renewed r left join ${S}.records rec on rec.app = $1 and rec.uuid = r.uuid`,
      [
        this.name,
        leases.map((lease) => lease.uuid),
        leases.map((lease) => lease.deliveries),
        workerId,
        leaseMs,
      ],
    );
    const held = new Map<string, string | null>();
    for (const row of rows) held.set(row.uuid, row.reason);
    for (const { uuid } of leases) {
      if (!held.has(uuid)) renewal.lost.push(uuid);
      else if (held.get(uuid) !== null) renewal.cancelled.push({ uuid, reason: held.get(uuid)! });
    }
    return renewal;
  }

  /** Cancels a queued task at once, or tells the worker running it. */
  cancel(uuid: string, reason: string, resultTtlMs: number): Promise<CancelOutcome> {
    return this.#step((step) => this.#cancel(step, uuid, reason, resultTtlMs));
  }

  async #cancel(
    step: PgStep,
    uuid: string,
    reason: string,
    resultTtlMs: number,
  ): Promise<CancelOutcome> {
    let fields = await step.fields(uuid);
    if (fields?.flow_kind !== undefined) {
      return await this.#cancelFlow(step, uuid, fields, reason, resultTtlMs);
    }
    let hops = 0;
    for (; hops < 1000 && fields?.status === "retry" && fields.retry_child_uuid; hops++) {
      uuid = fields.retry_child_uuid;
      fields = await step.fields(uuid);
    }
    if (!fields) return hops > 0 ? "finished" : "missing";
    if (fields.status === "new") {
      await step.unqueue(uuid);
      await this.#endCancelled(step, uuid, reason, resultTtlMs);
      return "cancelled";
    }
    if (fields.status === "process") {
      await step.write(uuid, { cancel_requested: reason });
      step.events.push([this.name, uuid, "!cancel", reason, ""]);
      return "cancelling";
    }
    return "finished";
  }

  async #endCancelled(
    step: PgStep,
    uuid: string,
    reason: string,
    resultTtlMs: number,
  ): Promise<void> {
    const stamp = toUnixSeconds(step.nowMs);
    await this.#finish(step, uuid, {
      status: "cancel",
      cancel_reason: reason,
      updated_at: stamp,
      finished_at: stamp,
    }, resultTtlMs);
  }

  /** Cancels a chain or group: its record ends as `cancel`, then its running steps. */
  async #cancelFlow(
    step: PgStep,
    uuid: string,
    fields: TaskFields,
    reason: string,
    resultTtlMs: number,
  ): Promise<CancelOutcome> {
    if (!isFlowRunning(fields.status)) return "finished";
    await this.#endCancelled(step, uuid, reason, resultTtlMs);
    const steps = fields.flow_kind === "group"
      ? parseStringList(fields.flow_steps)
      : [fields.flow_current ?? ""];
    for (const each of steps) {
      if (each !== "") await this.#cancel(step, each, reason, resultTtlMs);
    }
    return "cancelled";
  }

  /** Calls `listener` when a running task's cancel is requested (from any process). */
  async watchCancellations(
    listener: (uuid: string, reason: string) => void,
  ): Promise<() => void> {
    this.#cancelListeners.add(listener);
    if (this.#unlisten === undefined) {
      const stop = await this.storage.onEvent((line) => {
        if (line[2] === "!cancel") listener(line[1], line[3]);
      });
      return () => {
        stop();
        this.#cancelListeners.delete(listener);
      };
    }
    return () => void this.#cancelListeners.delete(listener);
  }

  /** Stores a running task's progress when `workerId` holds its delivery `deliveries`. */
  async reportProgress(
    workerId: string,
    uuid: string,
    deliveries: number,
    progress: string,
  ): Promise<boolean> {
    return await this.#step(async (step) => {
      if (!await this.#holds(step, workerId, uuid, deliveries)) return false;
      await step.write(uuid, { progress, updated_at: toUnixSeconds(step.nowMs) });
      return true;
    });
  }

  /** Appends a line to a running task's log when `workerId` holds its delivery `deliveries`. */
  async appendLog(
    workerId: string,
    uuid: string,
    deliveries: number,
    line: string,
    caps: { maxLines: number; maxBytes: number },
  ): Promise<boolean> {
    return await this.#step(async (step) => {
      if (!await this.#holds(step, workerId, uuid, deliveries)) return false;
      const fields = await step.fields(uuid);
      if (!fields) return false;
      await step.write(
        uuid,
        appendLogLine(fields.logs, fields.logs_dropped, line, caps.maxLines, caps.maxBytes),
      );
      return true;
    });
  }

  async #holds(step: PgStep, workerId: string, uuid: string, deliveries: number) {
    const rows = await step.run(
      `select 1 from ${this.connection.s}.leases where app = $1 and uuid = $2 and worker_id = $3 and deliveries = $4 for share`,
      [this.name, uuid, workerId, deliveries],
    );
    return rows.length > 0;
  }

  /**
   * Resolves when a task may be claimable (a NOTIFY from any process), after `timeoutMs`, or on
   * abort; then claims.
   */
  async waitForTasks(
    timeoutMs: number,
    signal: AbortSignal,
    claim?: ExchangeRequest,
  ): Promise<ExchangeResult | undefined> {
    if (this.#wakes === this.#wakesSeen && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        signal.addEventListener("abort", done, { once: true });
        this.#waiters.add(done);
      });
    }
    this.#wakesSeen = this.#wakes;
    return claim && !signal.aborted ? await this.exchange(claim) : undefined;
  }

  /** Reads a record through the Storage. */
  get(uuid: string): Promise<TaskRecord | undefined> {
    return this.storage.get(uuid);
  }

  /** Counts the queued tasks per priority, and the quarantined, scheduled and claimed ones. */
  async queueStats(): Promise<QueueStats> {
    await this.connection.ready();
    const S = this.connection.s;
    const rows = await this.connection.run(
      this.connection.sql,
      `select priority, quarantine, due_at > clock_timestamp() as scheduled, count(*)::int as n
       from ${S}.queue where app = $1 group by 1, 2, 3`,
      [this.name],
    );
    const [leases] = await this.connection.run(
      this.connection.sql,
      `select count(*)::int as n from ${S}.leases where app = $1`,
      [this.name],
    );
    const counts = new Map<number, number>();
    let queued = 0, quarantined = 0, scheduled = 0;
    for (const row of rows) {
      if (row.scheduled) scheduled += row.n;
      else if (row.quarantine) quarantined += row.n;
      else {
        queued += row.n;
        counts.set(row.priority, (counts.get(row.priority) ?? 0) + row.n);
      }
    }
    return {
      queued,
      byPriority: [...counts].sort((a, b) => a[0] - b[0]).map(([priority, count]) => ({
        priority,
        count,
      })),
      quarantined,
      scheduled,
      inFlight: leases.n,
    };
  }

  /** Deletes every queue entry, lease, pause, setting, claim, counter and record of this app. */
  async flushAll(): Promise<void> {
    await this.connection.ready();
    const S = this.connection.s;
    await this.connection.transaction(async (tx) => {
      // Pending records go with their entries (see `_pending_sql.ts`).
      await this.connection.run(tx, `select ${CLAIMING_SQL}`);
      const tables = [
        "queue",
        "leases",
        "paused",
        "config",
        "claims",
        "workers",
        "counters",
        "rate_log",
        "rate_slots",
        "dedup",
      ];
      for (const table of tables) {
        await this.connection.run(tx, `delete from ${S}.${table} where app = $1`, [this.name]);
      }
    });
    await this.storage.flushAll();
  }

  /** Puts a running task back: in the quarantine when its lease `expired`, else in its queue. */
  /**
   * Puts a running task back: in the quarantine when its lease `expired`, else in its queue. A
   * release with `delayMs` (a remote rate limit, RateLimitedError) is deferred: scheduled that
   * much later with its `run_at`, and counted in `rate_deferred`, which recovery subtracts from
   * the deliveries.
   */
  async #requeue(
    step: PgStep,
    uuid: string,
    stamp: string,
    end: DeliveryEnd,
    delayMs?: number,
  ): Promise<void> {
    const quarantine = end === "expired";
    const fields = await step.fields(uuid);
    if (!fields) return;
    const patch: TaskFields = {
      status: "new",
      worker_id: "",
      updated_at: stamp,
      past_deliveries: appendPastDelivery(fields.past_deliveries, fields, stamp, end),
    };
    const delay = delayMs === undefined ? 0 : Math.max(0, Math.ceil(delayMs));
    if (delayMs !== undefined) {
      patch.run_at = toUnixSeconds(step.nowMs + delay);
      patch.rate_deferred = String((Number(fields.rate_deferred) || 0) + 1);
    }
    await step.write(uuid, patch);
    await step.enqueue(
      {
        uuid,
        priority: Number(fields.priority ?? 0),
        seq: Number(fields.seq ?? 0),
        taskName: fields.task_name ?? "",
      },
      delay,
      quarantine,
    );
  }

  async #finish(step: PgStep, uuid: string, fields: TaskFields, ttlMs: number): Promise<void> {
    const current = await step.fields(uuid);
    const flow = current?.flow;
    await step.write(uuid, fields);
    await step.expire(uuid, ttlMs);
    if (flow !== undefined && fields.status !== "retry") {
      // The next steps of a flow carry the headers of the task that started them.
      await this.#flowAfter(step, uuid, flow, fields, ttlMs, current?.headers);
    }
  }

  /** A task of a chain or group reached a final status: runs the rest of the flow. */
  async #flowAfter(
    step: PgStep,
    uuid: string,
    text: string,
    fields: TaskFields,
    ttlMs: number,
    headers?: string,
  ): Promise<void> {
    const link = parseFlowLink(text);
    if (link === undefined) return;
    const stamp = fields.updated_at ?? toUnixSeconds(step.nowMs);
    if (fields.status !== "success") {
      const failure: TaskFields = { status: fields.status, flow_failed_uuid: uuid };
      for (const name of FLOW_ERROR_FIELDS) {
        if (fields[name] !== undefined) failure[name] = fields[name];
      }
      if (link.group) await this.#flowEnd(step, link.group.uuid, failure, stamp, ttlMs);
      if (link.chain) await this.#flowEnd(step, link.chain, failure, stamp, ttlMs);
      return;
    }
    let previous = fields.returning ?? "null";
    if (link.group) {
      const { uuid: group, index, size } = link.group;
      const record = await step.fields(group);
      if (!record || !isFlowRunning(record.status)) return;
      const done = Number(record.flow_done ?? 0) + 1;
      await step.write(group, { [`flow_result_${index}`]: previous, flow_done: String(done) });
      if (done < size) return;
      const results: string[] = [];
      for (let i = 0; i < size; i++) {
        results.push(i === index ? previous : record[`flow_result_${i}`] ?? "null");
      }
      const keys = Array.from({ length: size }, (_, i) => `flow_result_${i}`);
      await step.run(
        `update ${this.connection.s}.records set fields = fields - $3::text[] where app = $1 and uuid = $2`,
        [this.name, group, keys],
      );
      previous = `[${results.join(",")}]`;
      await this.#flowEnd(step, group, { status: "success", returning: previous }, stamp, ttlMs);
    }
    if (link.chain && !isFlowRunning((await step.fields(link.chain))?.status)) return;
    const [next, ...rest] = link.next;
    if (next === undefined) {
      if (link.chain) {
        await this.#flowEnd(
          step,
          link.chain,
          { status: "success", returning: previous },
          stamp,
          ttlMs,
        );
      }
      return;
    }
    await this.#flowStart(step, next, previous, link.chain, rest, stamp, headers);
  }

  /** Starts a step of a flow: its task, or its group's record and tasks. */
  async #flowStart(
    step: PgStep,
    next: FlowStep,
    previous: string,
    chain: string | undefined,
    rest: FlowStep[],
    stamp: string,
    headers?: string,
  ): Promise<void> {
    if (isGroupStep(next)) {
      if (!await step.fields(next.group)) {
        await step.insert(
          next.group,
          flowRecordFields(
            { uuid: next.group, kind: "group", steps: next.members.map((m) => m.uuid) },
            stamp,
          ),
        );
      }
      const size = next.members.length;
      for (let index = 0; index < size; index++) {
        const link: FlowLink = { next: rest, group: { uuid: next.group, index, size } };
        if (chain) link.chain = chain;
        await this.#flowTask(step, next.members[index], previous, link, stamp, headers);
      }
    } else {
      const link: FlowLink = { next: rest };
      if (chain) link.chain = chain;
      await this.#flowTask(step, next, previous, link, stamp, headers);
    }
    if (chain) {
      await step.write(chain, { flow_current: isGroupStep(next) ? next.group : next.uuid });
    }
  }

  /** Stores and queues one task of a flow (unless its uuid exists). */
  async #flowTask(
    step: PgStep,
    task: FlowTaskStep,
    previous: string,
    link: FlowLink,
    stamp: string,
    headers?: string,
  ): Promise<void> {
    const seq = await step.insert(task.uuid, {
      ...task.extra,
      ...(headers === undefined ? undefined : { headers }),
      task_name: task.name,
      priority: String(task.priority),
      args: stepArgs(previous, task.args),
      kwargs: "{}",
      status: "new",
      created_at: stamp,
      updated_at: stamp,
      deliveries: "0",
      flow: JSON.stringify(link),
      ...(task.queue === undefined || task.queue === DEFAULT_QUEUE ? {} : { queue: task.queue }),
    });
    if (seq === undefined) return;
    await step.enqueue({ uuid: task.uuid, priority: task.priority, seq, taskName: task.name }, 0);
  }

  /** Ends a chain or group record that is still running. */
  async #flowEnd(
    step: PgStep,
    uuid: string,
    fields: TaskFields,
    stamp: string,
    ttlMs: number,
  ): Promise<void> {
    if (!isFlowRunning((await step.fields(uuid))?.status)) return;
    await this.#finish(step, uuid, { ...fields, updated_at: stamp, finished_at: stamp }, ttlMs);
  }
}

/** The refusal of a task with `deduplication` in a bulk or flow enqueue (only `add` takes it). */
function refusal(task: NewTask, method: string): TypeError {
  return new TypeError(
    `Cannot add task "${task.taskName}": deduplication is not supported by ${method} (only add takes it)`,
  );
}

/** A final settlement of a task: stored in one statement when it is outside a flow. */
type PlainSettlement = Extract<Settlement, { status: "success" | "error" | "cancel" }>;

function isPlain(settlement: Settlement): settlement is PlainSettlement {
  return settlement.status === "success" || settlement.status === "error" ||
    settlement.status === "cancel";
}

/** The fields a plain settlement stores (its stamps aside). */
function outcomeFields(settlement: PlainSettlement): TaskFields {
  const fields: TaskFields = { status: settlement.status };
  if (settlement.status === "success") fields.returning = settlement.returning;
  else if (settlement.status === "cancel") fields.cancel_reason = settlement.reason;
  else Object.assign(fields, errorFields(settlement.error));
  return fields;
}

/** The task a claim hands the worker, from its record's `fields` (claimed at `nowMs`). */
function claimedTask(
  uuid: string,
  priority: number,
  due: number | string,
  fields: TaskFields,
  isolated: boolean,
  nowMs: number,
): ClaimedTask {
  const task: ClaimedTask = {
    uuid,
    taskName: fields.task_name ?? "",
    priority,
    args: fields.args ?? "[]",
    kwargs: fields.kwargs ?? "{}",
    deliveries: Number(fields.deliveries),
    isolated,
  };
  if (fields.retry !== undefined) task.retriesLeft = Number(fields.retry) || 0;
  if (fields.attempt !== undefined) task.attempt = Number(fields.attempt) || 1;
  if (fields.flow !== undefined) task.flow = true;
  // How long it waited since it was due (the server's clock).
  task.waitedMs = Math.max(0, Math.floor(nowMs - Number(due)));
  if (fields.headers !== undefined) {
    const headers = parseHeaders(fields.headers);
    if (headers !== undefined) task.headers = headers;
  }
  return task;
}

/** What the claims of one exchange share. */
interface ClaimState {
  /** The tasks claimed. */
  claimed: ClaimedTask[];
  /** Entries dropped (no record, or not `new`). */
  dropped: string[];
  /** Entries left queued (their slot locked by another exchange): not picked again. */
  skip: string[];
  /** Slots of expired tasks ended: kicked at the end. */
  kick: Set<string>;
  /** Slots whose advisory lock this transaction holds. */
  locked: Set<string>;
  /** Rate-limit slots whose advisory lock this transaction holds: when it was taken (ms). */
  rated: Map<string, number>;
}

function dropped(state: ClaimState, uuid: string): void {
  state.dropped.push(uuid);
}

/**
 * The advisory lock key of a concurrency slot: app `$1`, slot `slot` (default `$2`). Every
 * change of a slot's running tasks or parked ones happens under it.
 */
function slotKey(slot = "$2"): string {
  return `hashtextextended('qtasks:slot:' || $1::text || ':' || ${slot}, 0)`;
}

/**
 * The CTEs `updated` (with `born` and `changed`, see `claimRecordsSql`) and `leased` of a claim:
 * the records of the picked entries `from` (alias `p`, with `uuid` and `fields`; those passing
 * `where` are claimed) become `process` for worker `$5` at `$6` (a record pending in its entry is
 * inserted) and get a lease of `$7` ms from `$3`, holding slot `slot` (SQL: `null` or a
 * parameter). `S` is the schema.
 */
function takeSql(S: string, from: string, where: string, slot: string): string {
  return `${
    claimRecordsSql(S, {
      app: "$1",
      worker: "$5",
      stamp: "$6",
      now: "to_timestamp($3::float8 / 1000.0)",
      from,
      where,
    })
  },
       leased as (
         insert into ${S}.leases (app, uuid, worker_id, deliveries, deadline, conc_slot)
         select $1, u.uuid, $5, (u.fields->>'deliveries')::int,
           to_timestamp(($3::float8 + $7::float8) / 1000.0), ${slot}::text
         from updated u returning uuid)`;
}

/** The error fields of a task that was not started by its deadline. */
function expiredFields(): TaskFields {
  const error = new TaskExpiredError();
  return errorFields({ type: error.name, code: error.code, message: error.message });
}

/** The error fields of a task ended by the delivery limit. */
function deliveryLimitFields(deliveries: number): TaskFields {
  const error = new DeliveryLimitError(deliveries);
  return errorFields({ type: error.name, code: error.code, message: error.message });
}

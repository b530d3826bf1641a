import { type RedisComponentOptions, RedisGlobalConfig } from "./redis_global_config.ts";
import { RedisConnection } from "./redis_connection.ts";
import type { RedisReply } from "./redis_client.ts";
import { type RedisKeys, redisKeys } from "./redis_keys.ts";
import { enqueueBulkScript } from "./scripts/enqueue_bulk.ts";
import { exchangeScript } from "./scripts/exchange.ts";
import { extendLeasesScript } from "./scripts/extend_leases.ts";
import { cancelScript } from "./scripts/cancel.ts";
import { reportProgressScript } from "./scripts/report_progress.ts";
import { queueStatsScript } from "./scripts/queue_stats.ts";
import type { QueueStats } from "../../model/queue_stats.ts";
import { RedisStorage } from "./redis_storage.ts";
import { errorFields, isReservedField } from "../../model/task_codec.ts";
import { RedisReplyError } from "./redis_reply_error.ts";
import { BackendError } from "../../model/errors/backend_error.ts";
import { DuplicateTaskError } from "../../model/errors/duplicate_task_error.ts";
import type { TaskRecord } from "../../model/task_record.ts";
import type {
  Broker,
  CancelOutcome,
  ClaimedTask,
  ComponentContext,
  ExchangeRequest,
  ExchangeResult,
  Lease,
  LeaseRenewal,
  NewFlow,
  NewFlowRecord,
  NewTask,
} from "../../ports/broker.ts";
import { FLOW_TASK_NAMES } from "../../model/flow_record.ts";

const BULK_BATCH = 500;

function parseExchange(raw: RedisReply): ExchangeResult {
  const reply = raw as [RedisReply[], string[], number, string[], number, number];
  const flat = reply[0];
  const claimed: ClaimedTask[] = [];
  for (let i = 0; i < flat.length; i += 10) {
    const task: ClaimedTask = {
      uuid: flat[i] as string,
      taskName: flat[i + 1] as string,
      args: flat[i + 2] as string,
      kwargs: flat[i + 3] as string,
      priority: Number(flat[i + 4]),
      deliveries: Number(flat[i + 5]),
      isolated: Number(flat[i + 6]) === 1,
    };
    // A retry's record says how many retries are left and which attempt it is.
    if (flat[i + 7] !== "") task.retriesLeft = Number(flat[i + 7]) || 0;
    if (flat[i + 8] !== "") task.attempt = Number(flat[i + 8]) || 1;
    if (flat[i + 9] === "1") task.flow = true;
    claimed.push(task);
  }
  const result: ExchangeResult = {
    claimed,
    rejected: reply[1],
    recovered: Number(reply[2]),
    dropped: reply[3],
    quarantined: Number(reply[4]),
  };
  const nextDue = Number(reply[5]);
  if (nextDue >= 0) result.nextDueMs = nextDue;
  return result;
}

/**
 * Redis {@linkcode Broker}. Every state change is one Lua script: enqueue (records + queue or
 * schedule entries + wake-up marker, for every task gathered in one turn), exchange (settle,
 * retries included + recover expired leases + move due scheduled tasks + claim), lease renewal,
 * cancel. Idle workers block on BZPOPMIN of the marker, no longer than until the next scheduled
 * task is due; nothing polls. See docs/architecture.md.
 *
 * @example Assembled from components, as in QTasks
 * ```ts
 * import {
 *   AsyncWorker,
 *   QueueTasks,
 *   RedisBroker,
 *   RedisGlobalConfig,
 *   RedisStorage,
 * } from "@qtasks/qtasks";
 *
 * const url = "redis://127.0.0.1:6379";
 * const globalConfig = new RedisGlobalConfig({ name: "shop", url });
 * const storage = new RedisStorage({ name: "shop", globalConfig });
 * const broker = new RedisBroker({ name: "shop", storage });
 * const worker = new AsyncWorker({ broker });
 * const app = new QueueTasks({ name: "shop", broker, worker });
 * await app.stop();
 * ```
 */
export class RedisBroker implements Broker {
  /** The app name. */
  readonly name: string;
  /** Where records live. */
  readonly storage: RedisStorage;
  /** The shared connection. */
  readonly connection: RedisConnection;
  /** The app's keys. */
  readonly keys: RedisKeys;
  #holds = true;
  #logged = false;
  #pending: Array<{ task: NewTask; resolve: () => void; reject: (error: unknown) => void }> = [];
  /** When the next scheduled task is due (performance.now() time), as the last exchange said. */
  #dueAt: number | undefined;
  /** Claimed tasks of a chain or group, until their settlement is stored. */
  #flowTasks = new Set<string>();

  /**
   * Creates a RedisBroker.
   *
   * @param options Name, URL or connection, and `storage` (default a {@linkcode RedisStorage}
   *   with a {@linkcode RedisGlobalConfig}, all on one connection).
   */
  constructor(options: RedisComponentOptions & { storage?: RedisStorage } = {}) {
    this.name = options.name ?? options.storage?.name ?? "QueueTasks";
    if (options.storage && options.storage.name !== this.name) {
      throw new TypeError(
        `Cannot create RedisBroker "${this.name}": its storage belongs to app "${options.storage.name}"`,
      );
    }
    this.keys = redisKeys(this.name);
    if (options.storage) {
      this.storage = options.storage;
      this.connection = options.connection ??
        (options.url
          ? new RedisConnection({ ...options.redis, url: options.url })
          : options.storage.connection);
    } else {
      this.connection = options.connection ??
        new RedisConnection({ ...options.redis, url: options.url });
      const globalConfig = new RedisGlobalConfig({ name: this.name, connection: this.connection });
      this.storage = new RedisStorage({
        name: this.name,
        connection: this.connection,
        globalConfig,
      });
    }
    this.connection.acquire();
  }

  /** Starts the Storage (and GlobalConfig); connection errors are logged, redacted. */
  async start(context: ComponentContext): Promise<void> {
    if (!this.#holds) {
      this.connection.acquire();
      this.#holds = true;
    }
    if (!this.#logged) {
      this.#logged = true;
      this.connection.onError((error) => context.logger.warn(error.message));
    }
    await this.storage.start(context);
  }

  /** Releases the connection, then stops the Storage. */
  async stop(): Promise<void> {
    if (this.#holds) {
      this.#holds = false;
      await this.connection.release();
    }
    await this.storage.stop();
  }

  /**
   * Enqueues one task. Calls made in the same turn of the event loop (a web server handling
   * many requests, a `Promise.all`) are gathered and sent as one script call, up to 500 tasks:
   * still one atomic step per task, fewer round trips.
   */
  add(task: NewTask): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ task, resolve, reject });
      if (this.#pending.length >= BULK_BATCH) void this.#flush();
      else if (this.#pending.length === 1) queueMicrotask(() => void this.#flush());
    });
  }

  /** Sends the enqueues gathered so far as one bulk script call (a lone task too). */
  async #flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    try {
      const skipped = new Set(await this.#sendBulk(batch.map((entry) => entry.task), true));
      for (const { task, resolve, reject } of batch) {
        if (skipped.has(task.uuid)) reject(new DuplicateTaskError(task.taskName, task.uuid));
        else resolve();
      }
    } catch (error) {
      for (const { task, reject } of batch) {
        if (!(error instanceof BackendError)) reject(error);
        else {
          // Each task's own uuid on its error, for a safe resend with { uuid }.
          const cause = error.cause instanceof Error ? error.cause : error;
          reject(
            new BackendError(
              `Cannot add task "${task.taskName}" (${task.uuid}): ${cause.message}; it may have been stored`,
              { cause, uuid: task.uuid },
            ),
          );
        }
      }
    }
  }

  /** Enqueues many tasks: one EVALSHA per 500 tasks, each batch atomic (all or none). */
  async addBulk(tasks: NewTask[]): Promise<void> {
    for (let start = 0; start < tasks.length; start += BULK_BATCH) {
      await this.#sendBulk(tasks.slice(start, start + BULK_BATCH), false);
    }
  }

  /**
   * Stores a chain's or group's records and queues its first tasks: one EVALSHA of enqueue_bulk
   * (all or none), the records as entries that are never queued.
   */
  async addFlow(flow: NewFlow): Promise<void> {
    await this.#sendBulk(flow.tasks, false, flow.records);
  }

  /**
   * Sends one batch. With `skipExisting`, tasks whose uuid exists are skipped and returned;
   * without, a duplicate refuses the batch. A resend after a lost reply always skips (the tasks
   * its first run stored are not duplicates) and reports none.
   */
  async #sendBulk(
    batch: NewTask[],
    skipExisting: boolean,
    records: readonly NewFlowRecord[] = [],
  ): Promise<string[]> {
    const keys = [this.keys.queue, this.keys.marker, this.keys.seq, this.keys.scheduled];
    const tail: string[] = [String(records.length + batch.length)];
    for (const record of records) appendFlowRecord(tail, record);
    for (const task of batch) appendTask(tail, task);
    let skipped: string[] = [];
    await this.#resend(batch[0].taskName, batch[0].uuid, async (resent) => {
      const reply = await this.connection.script(enqueueBulkScript, keys, [
        this.keys.taskPrefix,
        skipExisting || resent ? "1" : "0",
        ...tail,
      ]);
      skipped = resent ? [] : reply as string[];
    });
    return skipped;
  }

  /**
   * Runs an enqueue, sending it again while Redis is unreachable (until backendTimeoutMs): a
   * failure without a reply is ambiguous, and the uuid makes a second run safe.
   */
  async #resend(
    taskName: string,
    uuid: string,
    send: (resent: boolean) => Promise<void>,
  ): Promise<void> {
    const deadline = Date.now() + this.connection.timeoutMs;
    for (let attempt = 1;; attempt++) {
      try {
        return await send(attempt > 1);
      } catch (error) {
        if (error instanceof RedisReplyError && error.code === "DUPLICATE_TASK") {
          throw new DuplicateTaskError(taskName, uuid);
        }
        if (!(error instanceof BackendError)) throw error;
        if (Date.now() >= deadline) {
          throw new BackendError(
            `Cannot add task "${taskName}" (${uuid}): ${error.message}; it may have been stored`,
            { cause: error, uuid },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(50 * attempt, 500)));
      }
    }
  }

  /** Settles, recovers and claims: one EVALSHA. */
  exchange(request: ExchangeRequest): Promise<ExchangeResult> {
    return this.#exchange(request);
  }

  async #exchange(request: ExchangeRequest): Promise<ExchangeResult> {
    const reply = await this.connection.script(
      exchangeScript,
      this.#exchangeKeys(),
      this.#exchangeArgs(request),
    );
    return this.#noted(request, parseExchange(reply));
  }

  /**
   * Remembers when the next scheduled task is due, for {@linkcode RedisBroker.waitForTasks}, and
   * which claimed tasks belong to a chain or group (their settlements say so; the others' spare
   * the script a read).
   */
  #noted(request: ExchangeRequest, result: ExchangeResult): ExchangeResult {
    this.#dueAt = result.nextDueMs === undefined ? undefined : performance.now() + result.nextDueMs;
    if (this.#flowTasks.size > 0) {
      for (const settlement of request.settlements) this.#flowTasks.delete(settlement.uuid);
    }
    for (const task of result.claimed) if (task.flow) this.#flowTasks.add(task.uuid);
    return result;
  }

  #exchangeKeys(): string[] {
    return [
      this.keys.queue,
      this.keys.leases,
      this.keys.marker,
      this.keys.quarantine,
      this.keys.scheduled,
      this.keys.seq,
    ];
  }

  #exchangeArgs(request: ExchangeRequest): string[] {
    const args: string[] = [
      this.keys.taskPrefix,
      request.workerId,
      String(request.leaseMs),
      String(request.want),
      String(request.resultTtlMs),
      String(request.maxDeliveries),
      String(request.recoverLimit),
      this.keys.events,
      request.idle ? "1" : "0",
      String(request.settlements.length),
    ];
    for (const s of request.settlements) {
      args.push(s.uuid, String(s.deliveries), s.status, this.#flowTasks.has(s.uuid) ? "1" : "");
      if (s.status === "success") args.push("1", "returning", s.returning);
      else if (s.status === "cancel") args.push("1", "cancel_reason", s.reason);
      else if (s.status === "error" || s.status === "retry") {
        const fields = Object.entries(errorFields(s.error));
        args.push(String(fields.length));
        for (const [field, value] of fields) args.push(field, value);
        if (s.status === "retry") {
          args.push(s.childUuid, String(Math.max(0, Math.ceil(s.delayMs))), String(s.retriesLeft));
        }
      } else args.push("0");
    }
    return args;
  }

  /** Renews leases: one EVALSHA. */
  async extendLeases(workerId: string, leases: Lease[], leaseMs: number): Promise<LeaseRenewal> {
    const args = [this.keys.taskPrefix, workerId, String(leaseMs)];
    for (const lease of leases) args.push(lease.uuid, String(lease.deliveries));
    const [lost, flat] = await this.connection.script(
      extendLeasesScript,
      [this.keys.leases],
      args,
    ) as [string[], string[]];
    const cancelled: LeaseRenewal["cancelled"] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      cancelled.push({ uuid: flat[i], reason: flat[i + 1] });
    }
    return { lost, cancelled };
  }

  /** Cancels: one EVALSHA (a running task's worker hears it on the control channel). */
  async cancel(uuid: string, reason: string, resultTtlMs: number): Promise<CancelOutcome> {
    return await this.connection.script(
      cancelScript,
      [this.keys.queue, this.keys.quarantine, this.keys.task(uuid), this.keys.scheduled],
      [
        uuid,
        reason,
        String(resultTtlMs),
        this.keys.events,
        this.keys.control,
        this.keys.taskPrefix,
      ],
    ) as CancelOutcome;
  }

  /** Listens on the control channel for cancels of running tasks. */
  async watchCancellations(
    listener: (uuid: string, reason: string) => void,
  ): Promise<() => void> {
    const remove = await this.connection.subscribe(this.keys.control, (message) => {
      const match = /^cancel (\S+) ?([\s\S]*)$/.exec(message);
      if (match) listener(match[1], match[2]);
    });
    return remove;
  }

  /** Stores a running task's progress under a lease check, and tells waiters: one EVALSHA. */
  async reportProgress(
    workerId: string,
    uuid: string,
    deliveries: number,
    progress: string,
  ): Promise<boolean> {
    const reply = await this.connection.script(
      reportProgressScript,
      [this.keys.leases, this.keys.task(uuid)],
      [uuid, workerId, String(deliveries), progress, this.keys.events],
    );
    return Number(reply) === 1;
  }

  /**
   * Blocks on BZPOPMIN of the marker until a task arrives, the timeout, or abort. With `claim`,
   * the exchange is sent right behind the BZPOPMIN on the same connection, so the wake-up and the
   * claim take one round trip. Redis ends a blocking wait only on its timer ticks (every 100 ms
   * at the default `hz` 10), so when the last exchange said a scheduled task falls due within the
   * wait, the broker sets the marker itself at that moment (one ZADD): the task is claimed within
   * milliseconds of its due time, by this worker or another one that waits.
   */
  async waitForTasks(
    timeoutMs: number,
    signal: AbortSignal,
    claim?: ExchangeRequest,
  ): Promise<ExchangeResult | undefined> {
    const blockMs = Math.max(timeoutMs, 10);
    const pop = ["BZPOPMIN", this.keys.marker, (blockMs / 1000).toFixed(3)];
    if (!claim) {
      await this.connection.blocking(pop, blockMs, signal);
      return undefined;
    }
    const keys = this.#exchangeKeys();
    const call = [
      "EVALSHA",
      await exchangeScript.sha(),
      String(keys.length),
      ...keys,
      ...this.#exchangeArgs(claim),
    ];
    // A due time within the wait: set the marker then (once: the claim tells the next one).
    let nudge: ReturnType<typeof setTimeout> | undefined;
    const dueIn = this.#dueAt === undefined ? Infinity : this.#dueAt - performance.now();
    if (dueIn <= blockMs) {
      this.#dueAt = undefined;
      nudge = setTimeout(() => {
        nudge = undefined;
        this.connection.command(["ZADD", this.keys.marker, "0", "0"]).catch(() => {});
      }, Math.max(0, dueIn));
    }
    let replies;
    try {
      replies = await this.connection.blockingThen(pop, blockMs, signal, call);
    } finally {
      if (nudge !== undefined) clearTimeout(nudge);
    }
    if (!replies) return undefined;
    const second = replies[1];
    let result: ExchangeResult;
    if (second instanceof RedisReplyError) {
      if (second.code !== "NOSCRIPT") throw second;
      result = await this.#exchange(claim);
    } else result = this.#noted(claim, parseExchange(second));
    return result;
  }

  /** Reads a record through the Storage. */
  get(uuid: string): Promise<TaskRecord | undefined> {
    return this.storage.get(uuid);
  }

  /**
   * Counts the queued tasks per priority (one script: a ZRANGEBYSCORE and a ZCOUNT per distinct
   * priority, up to 100), and the quarantined, scheduled and leased ones.
   */
  async queueStats(): Promise<QueueStats> {
    const reply = await this.connection.script(
      queueStatsScript,
      [this.keys.queue, this.keys.quarantine, this.keys.scheduled, this.keys.leases],
      ["100"],
    ) as [Array<string | number>, number, number, number];
    const byPriority: QueueStats["byPriority"] = [];
    let queued = 0;
    for (let i = 0; i + 1 < reply[0].length; i += 2) {
      const count = Number(reply[0][i + 1]);
      byPriority.push({ priority: Number(reply[0][i]), count });
      queued += count;
    }
    return {
      queued,
      byPriority,
      quarantined: Number(reply[1]),
      scheduled: Number(reply[2]),
      inFlight: Number(reply[3]),
    };
  }

  /** Deletes every key of the app (through the Storage). */
  async flushAll(): Promise<void> {
    await this.storage.flushAll();
  }
}

/**
 * Appends a task to enqueue_bulk's ARGV: its fields, then its extra fields (never reserved ones)
 * and its flow link as pairs.
 */
function appendTask(tail: string[], task: NewTask): void {
  const delay = task.delayMs !== undefined && task.delayMs > 0
    ? String(Math.ceil(task.delayMs))
    : "0";
  tail.push(task.uuid, String(task.priority), task.taskName, task.args, task.kwargs, delay, "");
  const count = tail.length - 1;
  let pairs = 0;
  for (const field in task.extra) {
    if (isReservedField(field)) continue;
    tail.push(field, String(task.extra[field]));
    pairs++;
  }
  if (task.flow !== undefined) {
    tail.push("flow", task.flow);
    pairs++;
  }
  tail[count] = String(pairs);
}

/** Appends the record of a chain or group: an entry with delay -1, stored and never queued. */
function appendFlowRecord(tail: string[], record: NewFlowRecord): void {
  const pairs = ["flow_kind", record.kind, "flow_steps", JSON.stringify(record.steps)];
  if (record.current !== undefined) pairs.push("flow_current", record.current);
  tail.push(
    record.uuid,
    "0",
    FLOW_TASK_NAMES[record.kind],
    "[]",
    "{}",
    "-1",
    String(pairs.length / 2),
    ...pairs,
  );
}

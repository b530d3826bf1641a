import type { QueueOperations } from "../../ports/queue_operations.ts";
import { type RedisComponentOptions, RedisGlobalConfig } from "./redis_global_config.ts";
import { RedisConnection } from "./redis_connection.ts";
import { partitionKeys, partitionOf, type RedisKeys, redisKeys } from "./redis_keys.ts";
import {
  decodeEnqueueReply,
  encodeEnqueueBulk,
  type EnqueueBulkReply,
  enqueueBulkScript,
} from "./scripts/_enqueue_bulk.ts";
import { decodeExchange, encodeExchange, exchangeScript } from "./scripts/_exchange.ts";
import {
  decodeExtendLeases,
  encodeExtendLeases,
  extendLeasesScript,
} from "./scripts/_extend_leases.ts";
import { cancelScript, decodeCancel, encodeCancel } from "./scripts/_cancel.ts";
import {
  decodeReportProgress,
  encodeReportProgress,
  reportProgressScript,
} from "./scripts/_report_progress.ts";
import { decodeQueueStats, encodeQueueStats, queueStatsScript } from "./scripts/_queue_stats.ts";
import type { QueueStats } from "../../model/queue_stats.ts";
import { RedisStorage } from "./redis_storage.ts";
import { RedisOperations } from "./redis_operations.ts";
import { appendLogScript, decodeAppendLog, encodeAppendLog } from "./scripts/_append_log.ts";
import { RedisReplyError } from "./redis_reply_error.ts";
import { BackendError } from "../../model/errors/backend_error.ts";
import { ConfigError } from "../../model/errors/config_error.ts";
import { serverOf } from "./_same_server.ts";
import { DEFAULT_QUEUE } from "../../model/queue_name.ts";
import { DuplicateTaskError } from "../../model/errors/duplicate_task_error.ts";
import { repeatedTask } from "../../ports/_repeated_task.ts";
import { flowRecordName } from "../../model/_flow_record.ts";
import type { TaskRecord } from "../../model/task_record.ts";
import type {
  AddOutcome,
  Broker,
  CancelOutcome,
  ComponentContext,
  ExchangeRequest,
  ExchangeResult,
  Lease,
  LeaseRenewal,
  NewFlow,
  NewFlowRecord,
  NewTask,
} from "../../ports/broker.ts";

const BULK_BATCH = 500;

/**
 * Refuses a broker and a storage on different Redis servers or databases: the broker's scripts
 * write the records, so `app.get()` would read another database and find nothing.
 */
function checkSameServer(name: string, broker: RedisConnection, storage: RedisConnection): void {
  if (broker === storage || serverOf(broker.redactedUrl) === serverOf(storage.redactedUrl)) return;
  throw new ConfigError(
    "storage",
    `Cannot create RedisBroker "${name}": the broker is on ${broker.redactedUrl} and its storage on ${storage.redactedUrl}; the broker's scripts write the records, so both must use one Redis server and database (give the storage no URL of its own, or the same one)`,
  );
}
/** How long the same connection error is not logged again. */
const REPEAT_QUIET_MS = 60_000;

/**
 * Redis {@linkcode Broker}. Every state change is one Lua script: enqueue (records + queue or
 * schedule entries + wake-up marker, for every task gathered in one turn), exchange (settle,
 * retries included + recover expired leases + move due scheduled tasks + claim), lease renewal,
 * cancel. Idle workers block on BZPOPMIN of the marker, no longer than until the next scheduled
 * task is due; nothing polls. See docs/architecture.md.
 *
 * @example Assembled from components, as in QTasks
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { AsyncWorker } from "@qtasks/qtasks/ports";
 * import { RedisBroker, RedisGlobalConfig, RedisStorage } from "@qtasks/qtasks/redis";
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
  /** The app's keys (of partition 0, the only one unless `partitions` says more). */
  readonly keys: RedisKeys;
  /**
   * The key layout of each partition (`redis: { partitions }`): one entry, `keys`, by default.
   * See docs/redis-cluster.md.
   */
  readonly partitions: readonly RedisKeys[];
  /** The operator's API: query, retry, delete, clean, drain, pause, events, logs. */
  readonly operations: QueueOperations;
  #holds = true;
  #logged = false;
  #pending: Array<{
    task: NewTask;
    resolve: (outcome?: AddOutcome) => void;
    reject: (error: unknown) => void;
  }> = [];
  /** When the next scheduled task is due (performance.now() time), as the last exchange said. */
  #dueAt: number | undefined;
  /** Claimed tasks of a chain or group, until their settlement is stored. */
  #flowTasks = new Set<string>();
  /** The task name and seq of each claimed task, until its settlement is stored (see encodeExchange). */
  #claimed = new Map<string, { taskName: string; seq: string }>();
  #onClaim = (uuid: string, taskName: string, seq: string): void => {
    this.#claimed.set(uuid, { taskName, seq });
  };
  /** With several partitions: the partition of each claimed task, until it is settled. */
  #claimedIn = new Map<string, number>();
  /** With several partitions: where the next claim starts (rotates, so none starves). */
  #nextPartition = 0;

  /**
   * Creates a RedisBroker.
   *
   * @param options Name, URL or connection, and `storage` (default a {@linkcode RedisStorage}
   *   with a {@linkcode RedisGlobalConfig}, all on one connection).
   * @throws {ConfigError} When a `storage` is given on another Redis server or database than the
   *   broker's `url` or `connection` (the broker's scripts write the records: they would split).
   */
  constructor(options: RedisComponentOptions & { storage?: RedisStorage } = {}) {
    this.name = options.name ?? options.storage?.name ?? "QueueTasks";
    if (options.storage && options.storage.name !== this.name) {
      throw new TypeError(
        `Cannot create RedisBroker "${this.name}": its storage belongs to app "${options.storage.name}"`,
      );
    }
    redisKeys(this.name); // checks the name first
    if (options.storage) {
      this.storage = options.storage;
      this.connection = options.connection ??
        (options.url
          ? new RedisConnection({ ...options.redis, url: options.url })
          : options.storage.connection);
      checkSameServer(this.name, this.connection, options.storage.connection);
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
    this.partitions = partitionKeys(this.name, this.connection.partitions);
    this.keys = this.partitions[0];
    this.connection.acquire();
    this.operations = new RedisOperations(this.connection, this.keys, this.partitions);
  }

  /** Starts the Storage (and GlobalConfig); connection errors are logged, redacted. */
  async start(context: ComponentContext): Promise<void> {
    if (!this.#holds) {
      this.connection.acquire();
      this.#holds = true;
    }
    if (!this.#logged) {
      this.#logged = true;
      // One line per distinct error: a client reconnecting every few ms repeats the same one.
      let last = "";
      let lastAt = 0;
      this.connection.onError((error) => {
        const now = performance.now();
        if (error.message === last && now - lastAt < REPEAT_QUIET_MS) return;
        last = error.message;
        lastAt = now;
        context.logger.warn(error.message);
      });
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
  add(task: NewTask): Promise<AddOutcome | void> {
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
    if (this.partitions.length > 1) {
      const groups = new Map<number, typeof batch>();
      for (const entry of batch) {
        const p = this.#partitionFor(entry.task);
        const group = groups.get(p);
        if (group) group.push(entry);
        else groups.set(p, [entry]);
      }
      await Promise.all([...groups].map(([p, group]) => this.#flushGroup(group, p)));
      return;
    }
    await this.#flushGroup(batch, 0);
  }

  async #flushGroup(
    batch: Array<{
      task: NewTask;
      resolve: (outcome?: AddOutcome) => void;
      reject: (error: unknown) => void;
    }>,
    partition: number,
  ): Promise<void> {
    try {
      const reply = await this.#sendBulk(batch.map((entry) => entry.task), true, [], partition);
      const skipped = new Set(reply.skipped);
      const joined = reply.joined;
      for (const { task, resolve, reject } of batch) {
        if (skipped.has(task.uuid)) reject(new DuplicateTaskError(task.taskName, task.uuid));
        else if (joined !== undefined && joined.has(task.uuid)) {
          resolve({ joined: joined.get(task.uuid)! });
        } else resolve();
      }
    } catch (error) {
      for (const { task, reject } of batch) {
        if (!(error instanceof BackendError)) reject(error);
        else {
          // Each task's own uuid on its error, for a safe resend with { uuid }.
          const cause = error.cause instanceof BackendError ? error.cause : error;
          reject(addFailed(task.taskName, task.uuid, cause, error.sent));
        }
      }
    }
  }

  /**
   * Enqueues many tasks: one EVALSHA per 500 tasks, each batch atomic (all or none). With
   * several partitions, each task goes to its uuid's partition: the uuids are first checked on
   * every partition (one EXISTS each), so a duplicate refuses the whole call before anything is
   * stored; each partition's share is then one atomic call.
   */
  async addBulk(tasks: NewTask[]): Promise<void> {
    refuseDeduplication(tasks, "addBulk");
    // The script refuses a uuid that exists, not one the batch names twice (neither exists yet).
    const repeated = repeatedTask(tasks);
    if (repeated !== undefined) throw new DuplicateTaskError(repeated.taskName, repeated.uuid);
    const count = this.partitions.length;
    if (count > 1) {
      const groups: NewTask[][] = this.partitions.map(() => []);
      for (const task of tasks) groups[this.#partitionFor(task)].push(task);
      await this.#checkAbsent(
        tasks.map((task) => ({ ...task, partition: this.#partitionFor(task) })),
      );
      await Promise.all(groups.map(async (group, p) => {
        for (let start = 0; start < group.length; start += BULK_BATCH) {
          await this.#sendBulk(group.slice(start, start + BULK_BATCH), false, [], p);
        }
      }));
      return;
    }
    for (let start = 0; start < tasks.length; start += BULK_BATCH) {
      await this.#sendBulk(tasks.slice(start, start + BULK_BATCH), false);
    }
  }

  /**
   * Stores a chain's or group's records and queues its first tasks: one EVALSHA of enqueue_bulk
   * (all or none), the records as entries that are never queued.
   */
  /**
   * Refuses tasks whose uuid is already stored in its partition (one EXISTS per partition):
   * with several partitions, the check before a call that spans them.
   *
   * @throws {DuplicateTaskError} Naming the first one found.
   */
  async #checkAbsent(
    tasks: ReadonlyArray<{ uuid: string; taskName: string; partition?: number }>,
  ): Promise<void> {
    const count = this.partitions.length;
    const groups = new Map<number, Array<{ uuid: string; taskName: string }>>();
    for (const task of tasks) {
      const p = task.partition ?? partitionOf(task.uuid, count);
      const group = groups.get(p);
      if (group) group.push(task);
      else groups.set(p, [task]);
    }
    await Promise.all([...groups].map(async ([p, group]) => {
      for (let start = 0; start < group.length; start += BULK_BATCH) {
        const part = group.slice(start, start + BULK_BATCH);
        const keys = part.map((task) => this.partitions[p].task(task.uuid));
        if (Number(await this.connection.command(["EXISTS", ...keys])) === 0) continue;
        for (const task of part) {
          const found = await this.connection.command([
            "EXISTS",
            this.partitions[p].task(task.uuid),
          ]);
          if (Number(found) > 0) throw new DuplicateTaskError(task.taskName, task.uuid);
        }
      }
    }));
  }

  /**
   * The partition a new task goes to: its uuid's, except for a task with a concurrency or rate
   * limit, which goes to its task name's, so that every task of a limit's slots (a name, or a
   * name and key) is counted by one partition's scripts and the limit holds across partitions;
   * and a task with a deduplication id, for the same reason (its name's ids, one partition).
   */
  #partitionFor(task: NewTask): number {
    const count = this.partitions.length;
    if (count === 1) return 0;
    // A deduplicated task too: its task name's ids live in one partition's keys.
    if (
      task.concurrency !== undefined || task.rateLimit !== undefined ||
      task.deduplication !== undefined
    ) {
      return partitionOf(task.taskName, count);
    }
    return partitionOf(task.uuid, count);
  }

  async addFlow(flow: NewFlow): Promise<void> {
    refuseDeduplication(flow.tasks, "addFlow");
    const named = [...flow.records.map(flowRecordName), ...flow.tasks];
    const repeated = repeatedTask(named);
    if (repeated !== undefined) throw new DuplicateTaskError(repeated.taskName, repeated.uuid);
    // A flow's records and tasks stay in one partition (its scripts touch them together): the
    // one of its first record (the id the caller holds).
    const first = flow.records[0]?.uuid ?? flow.tasks[0]?.uuid ?? "";
    if (this.partitions.length > 1) {
      // Its uuids are unique in their own partitions too (where add() would look).
      await this.#checkAbsent(named);
    }
    await this.#sendBulk(
      flow.tasks,
      false,
      flow.records,
      partitionOf(first, this.partitions.length),
    );
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
    partition = 0,
  ): Promise<EnqueueBulkReply> {
    let result: EnqueueBulkReply = { skipped: [] };
    const partitionKeys = this.partitions[partition];
    await this.#resend(batch[0].taskName, batch[0].uuid, async (resent) => {
      const { keys, args } = encodeEnqueueBulk(partitionKeys, {
        tasks: batch,
        skipExisting: skipExisting || resent,
        records,
      });
      const reply = decodeEnqueueReply(
        await this.connection.durableScript(enqueueBulkScript, keys, args),
      );
      // A resend skips what its first run stored; a deduplicated task joins again, the same way.
      result = resent ? { skipped: [], joined: reply.joined } : reply;
    });
    if (partition !== 0 && this.connection.isCluster) {
      // Idle workers of a partitioned app on a cluster block on partition 0's markers (a
      // blocking command waits on one slot): wake them for this partition's new tasks.
      const queues = new Set(batch.filter((task) => !task.delayMs).map((task) => task.queue));
      await Promise.all(
        [...queues].map((queue) =>
          this.connection.command(["ZADD", this.keys.markerOf(queue ?? DEFAULT_QUEUE), "0", "0"])
            .catch(() => {})
        ),
      );
    }
    return result;
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
    const deadline = performance.now() + this.connection.timeoutMs;
    let sent = false;
    for (let attempt = 1;; attempt++) {
      try {
        return await send(sent);
      } catch (error) {
        if (error instanceof RedisReplyError && error.code === "DUPLICATE_TASK") {
          throw new DuplicateTaskError(taskName, uuid);
        }
        if (!(error instanceof BackendError)) throw error;
        // A send that may have run makes every later one a resend (skip what it stored).
        sent ||= error.sent;
        // Refused by the server (OOM, NOAUTH, …): nothing was stored; sending again won't help.
        if (error.reply !== undefined || performance.now() >= deadline) {
          throw addFailed(taskName, uuid, error, sent);
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
    if (this.partitions.length > 1) return this.#noted(request, await this.#exchangeAll(request));
    const { keys, args } = encodeExchange(this.keys, request, this.#flowTasks, this.#claimed);
    const reply = await this.connection.script(exchangeScript, keys, args);
    return this.#noted(request, decodeExchange(reply, this.#onClaim));
  }

  /** The partition of a task this worker claimed (its uuid's, if it did not claim it here). */
  #partitionOfClaimed(uuid: string): number {
    return this.#claimedIn.get(uuid) ?? partitionOf(uuid, this.partitions.length);
  }

  /**
   * The exchange of a partitioned app: each partition's settlements go to it; the claim visits
   * the partitions one after the other, starting at the next one each time (so every partition
   * is visited first in turn and none starves), until `want` tasks are claimed, and stops after
   * a task that runs alone (quarantined). One script call per partition visited: a partition is
   * visited when it has settlements or tasks are still wanted.
   */
  async #exchangeAll(request: ExchangeRequest): Promise<ExchangeResult> {
    const count = this.partitions.length;
    const settlements: ExchangeRequest["settlements"][] = this.partitions.map(() => []);
    for (const settlement of request.settlements) {
      settlements[this.#partitionOfClaimed(settlement.uuid)].push(settlement);
    }
    const start = this.#nextPartition;
    this.#nextPartition = (start + 1) % count;
    const merged: ExchangeResult = {
      claimed: [],
      rejected: [],
      recovered: 0,
      dropped: [],
      quarantined: 0,
    };
    let want = request.want;
    let idle = request.idle;
    for (let i = 0; i < count; i++) {
      const p = (start + i) % count;
      // The first partition is always visited (its expired leases and due tasks move on even
      // when nothing is wanted: every partition in turn).
      if (i > 0 && settlements[p].length === 0 && want <= 0) continue;
      const part = { ...request, settlements: settlements[p], want: Math.max(0, want), idle };
      const { keys, args } = encodeExchange(
        this.partitions[p],
        part,
        this.#flowTasks,
        this.#claimed,
      );
      const result = decodeExchange(
        await this.connection.script(exchangeScript, keys, args),
        this.#onClaim,
      );
      for (const task of result.claimed) this.#claimedIn.set(task.uuid, p);
      merged.claimed.push(...result.claimed);
      merged.rejected.push(...result.rejected);
      merged.dropped.push(...result.dropped);
      merged.recovered += result.recovered;
      merged.quarantined += result.quarantined;
      if (
        result.nextDueMs !== undefined &&
        (merged.nextDueMs === undefined || result.nextDueMs < merged.nextDueMs)
      ) merged.nextDueMs = result.nextDueMs;
      want -= result.claimed.length;
      if (result.claimed.length > 0) idle = false;
      // A quarantined task runs alone.
      if (result.claimed.some((task) => task.isolated)) want = 0;
    }
    // Priorities across partitions: the claimed tasks run most urgent first (stable: within a
    // priority, in the order of the partitions visited).
    merged.claimed.sort((a, b) => a.priority - b.priority);
    // Refused settlements in the order they were given.
    if (merged.rejected.length > 1) {
      const order = new Map(request.settlements.map((settlement, i) => [settlement.uuid, i]));
      merged.rejected.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
    }
    return merged;
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
    if (this.#claimedIn.size > 0) {
      for (const settlement of request.settlements) this.#claimedIn.delete(settlement.uuid);
    }
    for (const settlement of request.settlements) this.#claimed.delete(settlement.uuid);
    for (const task of result.claimed) if (task.flow) this.#flowTasks.add(task.uuid);
    return result;
  }

  /** Renews leases: one EVALSHA. */
  async extendLeases(workerId: string, leases: Lease[], leaseMs: number): Promise<LeaseRenewal> {
    if (this.partitions.length === 1) {
      const { keys, args } = encodeExtendLeases(this.keys, { workerId, leases, leaseMs });
      return decodeExtendLeases(await this.connection.script(extendLeasesScript, keys, args));
    }
    const groups: Lease[][] = this.partitions.map(() => []);
    for (const lease of leases) groups[this.#partitionOfClaimed(lease.uuid)].push(lease);
    const renewals = await Promise.all(groups.map(async (group, p) => {
      if (group.length === 0) return { lost: [], cancelled: [] };
      const { keys, args } = encodeExtendLeases(this.partitions[p], {
        workerId,
        leases: group,
        leaseMs,
      });
      return decodeExtendLeases(await this.connection.script(extendLeasesScript, keys, args));
    }));
    return {
      lost: renewals.flatMap((renewal) => renewal.lost),
      cancelled: renewals.flatMap((renewal) => renewal.cancelled),
    };
  }

  /** Cancels: one EVALSHA (a running task's worker hears it on the control channel). */
  async cancel(uuid: string, reason: string, resultTtlMs: number): Promise<CancelOutcome> {
    // Its uuid's partition first; a task created inside another partition (a retry's attempt,
    // a chain's step) is found in the next ones.
    let outcome: CancelOutcome = "missing";
    for (const p of this.#lookupOrder(uuid)) {
      const { keys, args } = encodeCancel(this.partitions[p], { uuid, reason, resultTtlMs });
      outcome = decodeCancel(await this.connection.script(cancelScript, keys, args));
      if (outcome !== "missing") return outcome;
    }
    return outcome;
  }

  /** The partitions to look for a record in: its uuid's first, then the others. */
  #lookupOrder(uuid: string): number[] {
    const count = this.partitions.length;
    const first = partitionOf(uuid, count);
    return Array.from({ length: count }, (_, i) => (first + i) % count);
  }

  /** Listens on the control channel for cancels of running tasks. */
  async watchCancellations(
    listener: (uuid: string, reason: string) => void,
  ): Promise<() => void> {
    const removers: Array<() => void> = [];
    try {
      for (const keys of this.partitions) {
        removers.push(
          await this.connection.subscribe(keys.control, (message) => {
            const match = /^cancel (\S+) ?([\s\S]*)$/.exec(message);
            if (match) listener(match[1], match[2]);
          }),
        );
      }
    } catch (error) {
      for (const remove of removers) remove();
      throw error;
    }
    return () => {
      for (const remove of removers) remove();
    };
  }

  /** Stores a running task's progress under a lease check, and tells waiters: one EVALSHA. */
  async reportProgress(
    workerId: string,
    uuid: string,
    deliveries: number,
    progress: string,
  ): Promise<boolean> {
    const { keys, args } = encodeReportProgress(this.partitions[this.#partitionOfClaimed(uuid)], {
      workerId,
      uuid,
      deliveries,
      progress,
    });
    return decodeReportProgress(await this.connection.script(reportProgressScript, keys, args));
  }

  /** Appends a line to a running task's log under a lease check: one EVALSHA. */
  async appendLog(
    workerId: string,
    uuid: string,
    deliveries: number,
    line: string,
    caps: { maxLines: number; maxBytes: number },
  ): Promise<boolean> {
    const { keys, args } = encodeAppendLog(this.partitions[this.#partitionOfClaimed(uuid)], {
      workerId,
      uuid,
      deliveries,
      line,
      ...caps,
    });
    return decodeAppendLog(await this.connection.script(appendLogScript, keys, args));
  }

  /**
   * Blocks on BZPOPMIN of the marker (of each queue the claim takes from) until a task arrives,
   * the timeout, or abort. With `claim`, the exchange is sent right behind the BZPOPMIN on the same connection, so the wake-up and the
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
    // The markers of the queues the claim takes from (one BZPOPMIN waits on all of them).
    const queues = claim?.queues;
    const markersOf = (keys: RedisKeys) =>
      queues === undefined || queues.length === 0
        ? [keys.marker]
        : queues.map((queue) => keys.markerOf(queue));
    const partitioned = this.partitions.length > 1;
    // A partitioned app: one BZPOPMIN on every partition's markers, on one server; on a cluster
    // (one slot per command) on partition 0's, which every enqueue to another partition also
    // sets (see #sendBulk), and for at most 1 s, after which the claim visits every partition
    // (what sets the markers of other partitions, such as the recovery of expired leases, is
    // seen within that second).
    const markers = partitioned && !this.connection.isCluster
      ? this.partitions.flatMap(markersOf)
      : markersOf(this.keys);
    const waitMs = partitioned && this.connection.isCluster ? Math.min(blockMs, 1_000) : blockMs;
    const pop = ["BZPOPMIN", ...markers, (waitMs / 1000).toFixed(3)];
    if (!claim) {
      await this.connection.blocking(pop, waitMs, signal);
      return undefined;
    }
    if (partitioned) {
      const dueIn = this.#dueAt === undefined ? Infinity : this.#dueAt - performance.now();
      if (dueIn >= 1) {
        const ms = Math.max(1, Math.min(waitMs, Math.floor(dueIn)));
        await this.connection.blocking(
          ["BZPOPMIN", ...markers, (ms / 1000).toFixed(3)],
          ms,
          signal,
        );
      }
      if (signal.aborted) return undefined;
      return await this.#exchange(claim);
    }
    const { keys, args } = encodeExchange(this.keys, claim, this.#flowTasks, this.#claimed);
    const call = ["EVALSHA", await exchangeScript.sha(), String(keys.length), ...keys, ...args];
    // A due time within the wait: set the marker then (once: the claim tells the next one).
    let nudge: ReturnType<typeof setTimeout> | undefined;
    const dueIn = this.#dueAt === undefined ? Infinity : this.#dueAt - performance.now();
    if (dueIn <= blockMs) {
      this.#dueAt = undefined;
      nudge = setTimeout(() => {
        nudge = undefined;
        this.connection.command(["ZADD", markers[0], "0", "0"]).catch(() => {});
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
    } else result = this.#noted(claim, decodeExchange(second, this.#onClaim));
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
    const all = await Promise.all(this.partitions.map(async (partition) => {
      const { keys, args } = encodeQueueStats(partition, 100);
      return decodeQueueStats(await this.connection.script(queueStatsScript, keys, args));
    }));
    return all.length === 1 ? all[0] : sumQueueStats(all);
  }

  /** Deletes every key of the app (through the Storage). */
  async flushAll(): Promise<void> {
    await this.storage.flushAll();
  }
}

/**
 * The error of an enqueue that failed: "it may have been stored" only when a send may have run.
 */
function addFailed(
  taskName: string,
  uuid: string,
  cause: BackendError,
  sent: boolean,
): BackendError {
  return new BackendError(
    `Cannot add task "${taskName}" (${uuid}): ${cause.message}${
      sent
        ? "; it may have been stored (add it again with the same uuid to be sure)"
        : "; it was not stored"
    }`,
    { cause, uuid, sent, reply: cause.reply },
  );
}

/** Refuses tasks with `deduplication` in a bulk or flow enqueue (only `add` takes it). */
function refuseDeduplication(tasks: readonly NewTask[], method: string): void {
  for (const task of tasks) {
    if (task.deduplication !== undefined) {
      throw new TypeError(
        `Cannot add task "${task.taskName}": deduplication is not supported by ${method} (only add takes it)`,
      );
    }
  }
}

/** The queue counts of several partitions, added up (priorities merged, most urgent first). */
function sumQueueStats(all: QueueStats[]): QueueStats {
  const byPriority = new Map<number, number>();
  for (const stats of all) {
    for (const { priority, count } of stats.byPriority) {
      byPriority.set(priority, (byPriority.get(priority) ?? 0) + count);
    }
  }
  return {
    queued: all.reduce((sum, stats) => sum + stats.queued, 0),
    byPriority: [...byPriority].sort((a, b) => a[0] - b[0]).map(([priority, count]) => ({
      priority,
      count,
    })),
    quarantined: all.reduce((sum, stats) => sum + stats.quarantined, 0),
    scheduled: all.reduce((sum, stats) => sum + stats.scheduled, 0),
    inFlight: all.reduce((sum, stats) => sum + stats.inFlight, 0),
  };
}

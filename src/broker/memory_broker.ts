import { DuplicateTaskError } from "../errors/duplicate_task_error.ts";
import { MemoryGlobalConfig } from "../global_config/memory_global_config.ts";
import { PriorityHeap } from "../memory/priority_heap.ts";
import { MemoryStorage } from "../storage/memory_storage.ts";
import {
  errorFields,
  isReservedField,
  type TaskFields,
  toUnixSeconds,
} from "../task/task_codec.ts";
import type { TaskRecord } from "../task/task_record.ts";
import type {
  Broker,
  CancelOutcome,
  ClaimedTask,
  ComponentContext,
  ExchangeRequest,
  ExchangeResult,
  Lease,
  LeaseRenewal,
  NewTask,
} from "./broker.ts";

interface QueueEntry {
  priority: number;
  seq: number;
  uuid: string;
}

function byPriorityThenSeq(a: QueueEntry, b: QueueEntry): number {
  return a.priority - b.priority || a.seq - b.seq;
}

interface HeldLease {
  workerId: string;
  deliveries: number;
  deadline: number;
}

/**
 * In-memory {@linkcode Broker}: the embedded default for tests, demos and one-process apps. It
 * keeps the same guarantees as the Redis broker within one process: priority order with FIFO
 * inside a priority, leases, recovery of expired leases, and maxDeliveries.
 *
 * @example
 * ```ts
 * import { MemoryBroker, QueueTasks } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "demo", broker: new MemoryBroker({ name: "demo" }) });
 * ```
 */
export class MemoryBroker implements Broker {
  /** The app name. */
  readonly name: string;
  /** Where records live. */
  readonly storage: MemoryStorage;
  #queue = new PriorityHeap<QueueEntry>(byPriorityThenSeq);
  /** Tasks recovered from a dead worker: each runs alone on an idle worker. */
  #quarantine = new PriorityHeap<QueueEntry>(byPriorityThenSeq);
  #leases = new Map<string, HeldLease>();
  #seq = 0;
  #waiters = new Set<() => void>();
  #cancelListeners = new Set<(uuid: string, reason: string) => void>();
  /** Cancelled while queued: their heap entries are skipped when popped. */
  #cancelled = new Set<string>();

  /**
   * @param options `name` (default `QueueTasks`) and `storage` (default a new
   *   {@linkcode MemoryStorage} with a {@linkcode MemoryGlobalConfig}).
   */
  constructor(options: { name?: string; storage?: MemoryStorage } = {}) {
    this.name = options.name ?? options.storage?.name ?? "QueueTasks";
    this.storage = options.storage ??
      new MemoryStorage({
        name: this.name,
        globalConfig: new MemoryGlobalConfig({ name: this.name }),
      });
  }

  /** Starts the Storage. */
  async start(context: ComponentContext): Promise<void> {
    await this.storage.start(context);
  }

  /** Stops the Storage and wakes every waiting worker. */
  async stop(): Promise<void> {
    this.#wake();
    await this.storage.stop();
  }

  /** Stores the record and queues the task. */
  add(task: NewTask): Promise<void> {
    if (this.storage.fields(task.uuid)) {
      return Promise.reject(new DuplicateTaskError(task.taskName, task.uuid));
    }
    const now = toUnixSeconds(this.storage.now());
    const seq = ++this.#seq;
    const extra: TaskFields = {};
    for (const [field, value] of Object.entries(task.extra)) {
      if (!isReservedField(field)) extra[field] = String(value);
    }
    this.storage.write(task.uuid, {
      ...extra,
      task_name: task.taskName,
      priority: String(task.priority),
      args: task.args,
      kwargs: task.kwargs,
      status: "new",
      created_at: now,
      updated_at: now,
      seq: String(seq),
      deliveries: "0",
    });
    this.#queue.push({ priority: task.priority, seq, uuid: task.uuid });
    this.#wake();
    return Promise.resolve();
  }

  /** Stores and queues many tasks (all or none: a duplicate uuid refuses the batch). */
  async addBulk(tasks: NewTask[]): Promise<void> {
    const seen = new Set<string>();
    for (const task of tasks) {
      if (this.storage.fields(task.uuid) || seen.has(task.uuid)) {
        throw new DuplicateTaskError(task.taskName, task.uuid);
      }
      seen.add(task.uuid);
    }
    for (const task of tasks) await this.add(task);
  }

  /** Settles, recovers expired leases and claims, as one synchronous step. */
  exchange(request: ExchangeRequest): Promise<ExchangeResult> {
    const now = this.storage.now();
    const stamp = toUnixSeconds(now);
    const rejected: string[] = [];
    for (const settlement of request.settlements) {
      const lease = this.#leases.get(settlement.uuid);
      if (
        !lease || lease.workerId !== request.workerId ||
        lease.deliveries !== settlement.deliveries
      ) {
        rejected.push(settlement.uuid);
        continue;
      }
      this.#leases.delete(settlement.uuid);
      if (settlement.status === "release") {
        this.#requeue(settlement.uuid, stamp);
        continue;
      }
      const fields: TaskFields = {
        status: settlement.status,
        updated_at: stamp,
        finished_at: stamp,
      };
      if (settlement.status === "success") fields.returning = settlement.returning;
      else if (settlement.status === "error") Object.assign(fields, errorFields(settlement.error));
      else fields.cancel_reason = settlement.reason;
      this.#finish(settlement.uuid, fields, request.resultTtlMs);
    }

    let recovered = 0;
    for (const [uuid, lease] of this.#leases) {
      if (recovered >= request.recoverLimit) break;
      if (lease.deadline > now) continue;
      this.#leases.delete(uuid);
      recovered++;
      const cancelRequested = this.storage.fields(uuid)?.cancel_requested;
      if (cancelRequested !== undefined) {
        this.#finish(uuid, {
          status: "cancel",
          cancel_reason: cancelRequested,
          updated_at: stamp,
          finished_at: stamp,
        }, request.resultTtlMs);
      } else if (lease.deliveries >= request.maxDeliveries) {
        this.#finish(uuid, {
          status: "error",
          updated_at: stamp,
          finished_at: stamp,
          ...errorFields({
            type: "DeliveryLimitError",
            code: "DELIVERY_LIMIT",
            message:
              `Task was delivered ${lease.deliveries} times and its worker never settled it (worker died or lost its lease); not retried again`,
          }),
        }, request.resultTtlMs);
      } else {
        this.#requeue(uuid, stamp, this.#quarantine);
      }
    }

    const claimed: ClaimedTask[] = [];
    const dropped: string[] = [];
    const claimFrom = (queue: PriorityHeap<QueueEntry>, limit: number, isolated: boolean) => {
      let taken = 0;
      while (taken < limit) {
        const entry = queue.pop();
        if (!entry) break;
        if (this.#cancelled.delete(entry.uuid)) continue;
        const fields = this.storage.fields(entry.uuid);
        if (!fields || fields.task_name === undefined) {
          dropped.push(entry.uuid);
          continue;
        }
        const deliveries = Number(fields.deliveries ?? 0) + 1;
        this.storage.write(entry.uuid, {
          status: "process",
          worker_id: request.workerId,
          deliveries: String(deliveries),
          started_at: stamp,
          updated_at: stamp,
        });
        this.#leases.set(entry.uuid, {
          workerId: request.workerId,
          deliveries,
          deadline: now + request.leaseMs,
        });
        claimed.push({
          uuid: entry.uuid,
          taskName: fields.task_name,
          priority: entry.priority,
          args: fields.args ?? "[]",
          kwargs: fields.kwargs ?? "{}",
          deliveries,
          isolated,
        });
        taken++;
      }
      return taken;
    };
    if (request.want > 0) {
      // An idle worker takes one quarantined task and nothing else; otherwise, the queue.
      if (!(request.idle && claimFrom(this.#quarantine, 1, true) > 0)) {
        claimFrom(this.#queue, request.want, false);
      }
    }
    if (recovered > 0 || this.#queue.size > 0 || this.#quarantine.size > 0) this.#wake();
    return Promise.resolve({
      claimed,
      rejected,
      recovered,
      dropped,
      quarantined: this.#quarantine.size,
    });
  }

  /** Renews leases still held by `workerId`; reports lost ones and requested cancels. */
  extendLeases(workerId: string, leases: Lease[], leaseMs: number): Promise<LeaseRenewal> {
    const deadline = this.storage.now() + leaseMs;
    const renewal: LeaseRenewal = { lost: [], cancelled: [] };
    for (const { uuid, deliveries } of leases) {
      const lease = this.#leases.get(uuid);
      if (lease && lease.workerId === workerId && lease.deliveries === deliveries) {
        lease.deadline = deadline;
        const reason = this.storage.fields(uuid)?.cancel_requested;
        if (reason !== undefined) renewal.cancelled.push({ uuid, reason });
      } else {
        renewal.lost.push(uuid);
      }
    }
    return Promise.resolve(renewal);
  }

  /** Cancels a queued task at once, or tells the worker running it. */
  cancel(uuid: string, reason: string, resultTtlMs: number): Promise<CancelOutcome> {
    const fields = this.storage.fields(uuid);
    if (!fields) return Promise.resolve("missing");
    if (fields.status === "new") {
      this.#cancelled.add(uuid);
      const stamp = toUnixSeconds(this.storage.now());
      this.#finish(uuid, {
        status: "cancel",
        cancel_reason: reason,
        updated_at: stamp,
        finished_at: stamp,
      }, resultTtlMs);
      return Promise.resolve("cancelled");
    }
    if (fields.status === "process") {
      this.storage.write(uuid, { cancel_requested: reason });
      for (const listener of [...this.#cancelListeners]) listener(uuid, reason);
      return Promise.resolve("cancelling");
    }
    return Promise.resolve("finished");
  }

  /** Calls `listener` when a running task's cancel is requested. */
  watchCancellations(listener: (uuid: string, reason: string) => void): Promise<() => void> {
    this.#cancelListeners.add(listener);
    return Promise.resolve(() => void this.#cancelListeners.delete(listener));
  }

  /** Resolves when a task is added or recovered, after `timeoutMs`, or on abort; then claims. */
  async waitForTasks(
    timeoutMs: number,
    signal: AbortSignal,
    claim?: ExchangeRequest,
  ): Promise<ExchangeResult | undefined> {
    if (this.#queue.size === 0 && this.#quarantine.size === 0 && !signal.aborted) {
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
    return claim && !signal.aborted ? await this.exchange(claim) : undefined;
  }

  /** Reads a record. */
  get(uuid: string): Promise<TaskRecord | undefined> {
    return this.storage.get(uuid);
  }

  /** Empties the queue, the leases and the storage. */
  async flushAll(): Promise<void> {
    this.#queue.clear();
    this.#quarantine.clear();
    this.#cancelled.clear();
    this.#leases.clear();
    await this.storage.flushAll();
  }

  #requeue(uuid: string, stamp: string, queue: PriorityHeap<QueueEntry> = this.#queue): void {
    const fields = this.storage.fields(uuid);
    if (!fields) return;
    this.storage.write(uuid, { status: "new", worker_id: "", updated_at: stamp });
    queue.push({
      priority: Number(fields.priority ?? 0),
      seq: Number(fields.seq ?? 0),
      uuid,
    });
  }

  #finish(uuid: string, fields: TaskFields, ttlMs: number): void {
    this.storage.write(uuid, fields);
    this.storage.expire(uuid, ttlMs);
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}

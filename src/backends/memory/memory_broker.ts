import { ATTEMPT_FIELDS } from "../../model/_attempt_fields.ts";
import { appendPastDelivery, type DeliveryEnd } from "../../model/past_delivery.ts";
import type { QueueOperations } from "../../ports/queue_operations.ts";
import { DuplicateTaskError } from "../../model/errors/duplicate_task_error.ts";
import { DeliveryLimitError } from "../../model/errors/delivery_limit_error.ts";
import { TaskExpiredError } from "../../model/errors/task_expired_error.ts";
import { MemoryGlobalConfig } from "./memory_global_config.ts";
import { PriorityHeap } from "./_priority_heap.ts";
import { DEFAULT_QUEUE } from "../../model/queue_name.ts";
import type { QueueStats } from "../../model/queue_stats.ts";
import { MemoryStorage } from "./memory_storage.ts";
import { MemoryOperations } from "./memory_operations.ts";
import { appendLogLine } from "../../model/_task_log.ts";
import { encodeHeaders, parseHeaders } from "../../model/task_headers.ts";
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
import {
  errorFields,
  isReservedField,
  type TaskFields,
  toUnixSeconds,
} from "../../model/task_codec.ts";
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
  NewTask,
  Settlement,
} from "../../ports/broker.ts";

interface QueueEntry {
  priority: number;
  seq: number;
  uuid: string;
}

function byPriorityThenSeq(a: QueueEntry, b: QueueEntry): number {
  return a.priority - b.priority || a.seq - b.seq;
}

interface ScheduledEntry extends QueueEntry {
  /** When it is due (ms, the storage's clock). */
  due: number;
}

function byDueThenSeq(a: ScheduledEntry, b: ScheduledEntry): number {
  return a.due - b.due || a.seq - b.seq;
}

/** Due scheduled tasks moved into the queue per exchange, at most (as on Redis). */
const MOVE_LIMIT = 1000;

/** Fields that describe one attempt, not the task: a retry's record starts without them. */
const ATTEMPT_FIELD_SET: ReadonlySet<string> = new Set(ATTEMPT_FIELDS);

interface HeldLease {
  workerId: string;
  deliveries: number;
  deadline: number;
}

/**
 * In-memory {@linkcode Broker}: the embedded default for tests, demos and one-process apps. It
 * keeps the same guarantees as the Redis broker within one process: priority order with FIFO
 * inside a priority, leases, recovery of expired leases, maxDeliveries, delayed tasks (a heap by
 * due time, on the storage's clock) and retries.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { MemoryBroker } from "@qtasks/qtasks/memory";
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
  /** The named queues (the default one is #queue), created when a task first goes to one. */
  #named = new Map<string, PriorityHeap<QueueEntry>>();
  /** Counts the entries queued: a worker whose last claim skipped entries waits for a change. */
  #version = 0;
  /** Workers whose last claim left entries it may not take, and the #version it saw. */
  #skippedAt = new Map<string, number>();
  /** Tasks recovered from a dead worker: each runs alone on an idle worker. */
  #quarantine = new PriorityHeap<QueueEntry>(byPriorityThenSeq);
  /** Tasks not yet due (delayed tasks, retries), earliest first. */
  #scheduled = new PriorityHeap<ScheduledEntry>(byDueThenSeq);
  #leases = new Map<string, HeldLease>();
  #seq = 0;
  #waiters = new Set<() => void>();
  #cancelListeners = new Set<(uuid: string, reason: string) => void>();
  /** Cancelled while queued or scheduled: their heap entries are skipped when popped. */
  #cancelled = new Set<string>();
  /** Paused task names (`*`: the app) and the entries claimed while paused, per name. */
  #paused = new Set<string>();
  #parked = new Map<string, QueueEntry[]>();
  /** Concurrency limits: the running tasks of each slot, each running task's slot, the waiting. */
  #slots = new Map<string, Set<string>>();
  #slotOf = new Map<string, string>();
  #slotWaiting = new Map<string, PriorityHeap<QueueEntry>>();
  /**
   * Rate limits (a sliding-window log, as on Redis: see _rate_limit_lua.ts): each slot's starts
   * in its window (ms, ascending), its parked entries, and when each slot's window has room
   * (by the record's `rate_limit` spec).
   */
  #rateLog = new Map<string, number[]>();
  #rateWaiting = new Map<string, PriorityHeap<QueueEntry>>();
  #rateDue = new Map<string, number>();
  /** The operator's API: query, retry, delete, clean, drain, pause, events, logs. */
  readonly operations: QueueOperations;

  /**
   * Creates a MemoryBroker.
   *
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
    this.operations = new MemoryOperations({
      storage: this.storage,
      paused: this.#paused,
      nextSeq: () => ++this.#seq,
      enqueue: (entry) => {
        this.#push(entry);
        this.#wake();
      },
      unqueue: (uuid) => void this.#cancelled.add(uuid),
      unpark: (taskName) => {
        for (const [name, entries] of this.#parked) {
          if (taskName !== undefined && name !== taskName) continue;
          if (this.#paused.has(name)) continue;
          for (const entry of entries) this.#push(entry);
          this.#parked.delete(name);
        }
        this.#wake();
      },
    });
  }

  /** Starts the Storage (and its GlobalConfig). */
  async start(context: ComponentContext): Promise<void> {
    await this.storage.start(context);
  }

  /** Wakes every waiting worker, then stops the Storage. */
  async stop(): Promise<void> {
    this.#wake();
    await this.storage.stop();
  }

  /** Stores the record and queues the task. */
  add(task: NewTask): Promise<void> {
    try {
      this.#store(task);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve();
  }

  /** Writes the record and queues the task, synchronously. */
  #store(task: NewTask): void {
    if (this.storage.fields(task.uuid)) throw new DuplicateTaskError(task.taskName, task.uuid);
    const nowMs = this.storage.now();
    const now = toUnixSeconds(nowMs);
    const seq = ++this.#seq;
    const extra: TaskFields = {};
    for (const [field, value] of Object.entries(task.extra)) {
      if (!isReservedField(field)) extra[field] = String(value);
    }
    const fields: TaskFields = {
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
    };
    const delay = task.delayMs !== undefined && task.delayMs > 0 ? Math.ceil(task.delayMs) : 0;
    if (delay > 0) fields.run_at = toUnixSeconds(nowMs + delay);
    if (task.flow !== undefined) fields.flow = task.flow;
    if (task.queue !== undefined && task.queue !== DEFAULT_QUEUE) fields.queue = task.queue;
    if (task.expiresInMs !== undefined && task.expiresInMs > 0) {
      fields.expires_at = toUnixSeconds(nowMs + Math.ceil(task.expiresInMs));
    }
    if (task.concurrency !== undefined) {
      fields.conc_slot = task.concurrency.slot;
      fields.conc_limit = String(task.concurrency.limit);
    }
    if (task.rateLimit !== undefined) {
      const { limit, durationMs, slot } = task.rateLimit;
      fields.rate_limit = `${limit} ${durationMs} ${slot}`;
    }
    const headers = encodeHeaders(task.headers);
    if (headers !== undefined) fields.headers = headers;
    this.storage.write(task.uuid, fields);
    this.#schedule({ priority: task.priority, seq, uuid: task.uuid }, nowMs + delay, nowMs);
  }

  /**
   * Queues an entry due at `due`, or puts it in the schedule; wakes the waiting workers when it is
   * due now or earlier than every scheduled task (so that they shorten their wait).
   */
  #schedule(entry: QueueEntry, due: number, now: number): void {
    if (due <= now) {
      this.#push(entry);
      this.#wake();
      return;
    }
    const head = this.#scheduledHead();
    this.#scheduled.push({ ...entry, due });
    if (!head || due < head.due) this.#wake();
  }

  /** The earliest scheduled task that was not cancelled (cancelled ones are dropped on the way). */
  #scheduledHead(): ScheduledEntry | undefined {
    let head = this.#scheduled.peek();
    while (head && this.#cancelled.delete(head.uuid)) {
      this.#scheduled.pop();
      head = this.#scheduled.peek();
    }
    return head;
  }

  /** Stores and queues many tasks (all or none: a duplicate uuid refuses the batch). */
  addBulk(tasks: NewTask[]): Promise<void> {
    try {
      const seen = new Set<string>();
      for (const task of tasks) {
        if (this.storage.fields(task.uuid) || seen.has(task.uuid)) {
          throw new DuplicateTaskError(task.taskName, task.uuid);
        }
        seen.add(task.uuid);
      }
      for (const task of tasks) this.#store(task);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve();
  }

  /** Stores a chain's or group's records and queues its first tasks (all or none). */
  addFlow(flow: NewFlow): Promise<void> {
    try {
      const seen = new Set<string>();
      for (const { uuid, taskName } of [...flow.records.map(flowRecordName), ...flow.tasks]) {
        if (this.storage.fields(uuid) || seen.has(uuid)) {
          throw new DuplicateTaskError(taskName, uuid);
        }
        seen.add(uuid);
      }
      const stamp = toUnixSeconds(this.storage.now());
      for (const record of flow.records) {
        this.storage.write(record.uuid, {
          ...flowRecordFields(record, stamp),
          seq: String(++this.#seq),
        });
      }
      for (const task of flow.tasks) this.#store(task);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve();
  }

  /** Settles, recovers expired leases and claims, as one synchronous step. */
  exchange(request: ExchangeRequest): Promise<ExchangeResult> {
    return Promise.resolve(this.#exchange(request));
  }

  #exchange(request: ExchangeRequest): ExchangeResult {
    const now = this.storage.now();
    const stamp = toUnixSeconds(now);
    const rejected: string[] = [];
    const failedTtl = request.failedTtlMs ?? request.resultTtlMs;
    for (const settlement of request.settlements) {
      const lease = this.#leases.get(settlement.uuid);
      if (
        !lease || lease.workerId !== request.workerId ||
        lease.deliveries !== settlement.deliveries
      ) {
        // Already stored by an earlier send of this settlement (its reply lost): skipped, as on
        // Redis; else this worker no longer holds the task.
        const fields = this.storage.fields(settlement.uuid);
        const done = fields !== undefined && fields.worker_id === request.workerId &&
          fields.deliveries === String(settlement.deliveries) &&
          fields.status === settlement.status && fields.error_code !== "DELIVERY_LIMIT";
        if (!done) rejected.push(settlement.uuid);
        continue;
      }
      this.#leases.delete(settlement.uuid);
      if (this.#slotOf.size > 0) this.#freeSlot(settlement.uuid);
      if (settlement.status === "release") {
        if (settlement.delayMs === undefined) this.#requeue(settlement.uuid, stamp, "released");
        else this.#defer(settlement.uuid, now, settlement.delayMs);
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
        this.#retry(settlement, fields, now, request.resultTtlMs);
      } else {
        this.#finish(
          settlement.uuid,
          fields,
          settlement.status === "success" ? request.resultTtlMs : failedTtl,
        );
      }
    }

    let recovered = 0;
    for (const [uuid, lease] of this.#leases) {
      if (recovered >= request.recoverLimit) break;
      if (lease.deadline > now) continue;
      this.#leases.delete(uuid);
      if (this.#slotOf.size > 0) this.#freeSlot(uuid);
      recovered++;
      const cancelRequested = this.storage.fields(uuid)?.cancel_requested;
      if (cancelRequested !== undefined) {
        this.#finish(uuid, {
          status: "cancel",
          cancel_reason: cancelRequested,
          updated_at: stamp,
          finished_at: stamp,
        }, failedTtl);
      } else if (
        lease.deliveries - (Number(this.storage.fields(uuid)?.rate_deferred) || 0) >=
          request.maxDeliveries
      ) {
        this.#finish(uuid, {
          status: "error",
          updated_at: stamp,
          finished_at: stamp,
          ...deliveryLimitFields(lease.deliveries),
        }, failedTtl);
      } else {
        this.#requeue(uuid, stamp, "expired", this.#quarantine);
      }
    }

    const dropped: string[] = [];
    // Rate-limited slots whose window has room: their parked tasks go back to their queues.
    if (this.#rateDue.size > 0) this.#rateWake(now);
    // Due scheduled tasks join the queue by their priority and seq.
    let moved = 0;
    for (let head = this.#scheduledHead(); head && head.due <= now && moved < MOVE_LIMIT;) {
      this.#scheduled.pop();
      const status = this.storage.fields(head.uuid)?.status;
      if (status === "new") {
        this.#push({ priority: head.priority, seq: head.seq, uuid: head.uuid });
        moved++;
      } else if (status === undefined) dropped.push(head.uuid);
      head = this.#scheduledHead();
    }

    const claimed: ClaimedTask[] = [];
    const queues = request.queues ?? [DEFAULT_QUEUE];
    const known = request.taskNames === undefined ? undefined : new Set(request.taskNames);
    const consumed = new Set(queues);
    // Entries this worker may not take (another queue's quarantined task, or a task it does not
    // know in a named queue): put back after the claim.
    const skipped: Array<[PriorityHeap<QueueEntry>, QueueEntry]> = [];
    const claimFrom = (
      queue: PriorityHeap<QueueEntry>,
      limit: number,
      isolated: boolean,
      named = false,
    ) => {
      let taken = 0;
      while (taken < limit) {
        const entry = queue.pop();
        if (!entry) break;
        if (this.#cancelled.delete(entry.uuid)) continue;
        const fields = this.storage.fields(entry.uuid);
        if (!fields || fields.task_name === undefined || fields.status !== "new") {
          dropped.push(entry.uuid);
          continue;
        }
        if (fields.expires_at !== undefined && Number(fields.expires_at) * 1000 <= now) {
          // Not started by its deadline: it ends as cancel instead of running late.
          this.#finish(entry.uuid, {
            status: "cancel",
            cancel_reason: "expired",
            ...expiredFields(),
            updated_at: stamp,
            finished_at: stamp,
          }, failedTtl);
          // It may have been moved out of its slot's parked tasks: another one takes its turn.
          if (fields.conc_slot !== undefined) this.#kickSlot(fields.conc_slot, fields.conc_limit);
          continue;
        }
        if (
          (isolated && !consumed.has(fields.queue ?? DEFAULT_QUEUE)) ||
          (named && known !== undefined && !known.has(fields.task_name))
        ) {
          skipped.push([queue, entry]);
          continue;
        }
        if (this.#paused.size > 0 && this.#paused.has(fields.task_name)) {
          // A paused task name: parked until it is resumed.
          const parked = this.#parked.get(fields.task_name);
          if (parked) parked.push(entry);
          else this.#parked.set(fields.task_name, [entry]);
          continue;
        }
        const rated = fields.rate_limit !== undefined;
        if (rated && !this.#rateTake(entry, fields.rate_limit!, now)) continue;
        if (fields.conc_slot !== undefined && !this.#takeSlot(entry, fields.conc_slot, fields)) {
          // Parked by its concurrency limit: its start is not counted by its rate limit.
          if (rated) this.#rateLog.get(rateSpec(fields.rate_limit!).slot)?.pop();
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
        const task: ClaimedTask = {
          uuid: entry.uuid,
          taskName: fields.task_name,
          priority: entry.priority,
          args: fields.args ?? "[]",
          kwargs: fields.kwargs ?? "{}",
          deliveries,
          isolated,
        };
        // A retry's record says how many retries are left and which attempt it is.
        if (fields.retry !== undefined) task.retriesLeft = Number(fields.retry) || 0;
        if (fields.attempt !== undefined) task.attempt = Number(fields.attempt) || 1;
        if (fields.flow !== undefined) task.flow = true;
        if (fields.headers !== undefined) {
          const headers = parseHeaders(fields.headers);
          if (headers !== undefined) task.headers = headers;
        }
        const due = Math.max(Number(fields.created_at) || 0, Number(fields.run_at) || 0) * 1000;
        if (due > 0) task.waitedMs = Math.max(0, Math.floor(now - due));
        claimed.push(task);
        taken++;
      }
      return taken;
    };
    if (request.want > 0 && !this.#paused.has("*")) {
      // An idle worker takes one quarantined task and nothing else; otherwise, the queue.
      if (!(request.idle && claimFrom(this.#quarantine, 1, true) > 0)) {
        for (const name of queues) {
          if (claimed.length >= request.want) break;
          const named = name !== DEFAULT_QUEUE;
          claimFrom(this.#heap(name), request.want - claimed.length, false, named);
        }
      }
      for (const [queue, entry] of skipped) queue.push(entry);
      if (skipped.length > 0) this.#skippedAt.set(request.workerId, this.#version);
      else this.#skippedAt.delete(request.workerId);
    }
    // Tasks waiting, or claims while tasks are scheduled: the other waiting workers look again
    // (and learn when the next scheduled task is due).
    if (
      recovered > 0 || (skipped.length === 0 && this.#anyQueued(request.queues)) ||
      (claimed.length > 0 && this.#scheduledHead() !== undefined)
    ) this.#wake();
    const result: ExchangeResult = {
      claimed,
      rejected,
      recovered,
      dropped,
      quarantined: this.#quarantine.size,
    };
    let nextDue = this.#scheduledHead()?.due;
    for (const due of this.#rateDue.values()) nextDue = Math.min(nextDue ?? due, due);
    if (nextDue !== undefined) result.nextDueMs = Math.max(1, nextDue - now);
    return result;
  }

  /**
   * Settles a failed attempt as `retry` and creates the next attempt's record (scheduled after the
   * delay), as the Redis exchange script does; a task whose cancel was requested (or whose record
   * is gone) ends as `error` instead.
   */
  #retry(
    settlement: Extract<Settlement, { status: "retry" }>,
    fields: TaskFields,
    now: number,
    ttlMs: number,
  ): void {
    const parent = this.storage.fields(settlement.uuid);
    const child = settlement.childUuid;
    if (
      !parent || parent.task_name === undefined || parent.cancel_requested !== undefined ||
      this.storage.fields(child)
    ) {
      this.#finish(settlement.uuid, { ...fields, status: "error" }, ttlMs);
      return;
    }
    const delay = Math.max(0, Math.ceil(settlement.delayMs));
    const due = now + delay;
    const stamp = toUnixSeconds(now);
    const seq = ++this.#seq;
    const copy: TaskFields = {};
    for (const [field, value] of Object.entries(parent)) {
      if (!ATTEMPT_FIELD_SET.has(field)) copy[field] = value;
    }
    const record: TaskFields = {
      ...copy,
      status: "new",
      created_at: stamp,
      updated_at: stamp,
      seq: String(seq),
      deliveries: "0",
      retry: String(settlement.retriesLeft - 1),
      retry_parent_uuid: settlement.uuid,
      attempt: String((Number(parent.attempt) || 1) + 1),
    };
    if (delay > 0) record.run_at = toUnixSeconds(due);
    this.storage.write(child, record);
    this.#finish(settlement.uuid, {
      ...fields,
      retry: String(settlement.retriesLeft),
      retry_child_uuid: child,
    }, ttlMs + delay);
    this.#schedule({ priority: Number(parent.priority) || 0, seq, uuid: child }, due, now);
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
    return this.#cancel(uuid, reason, resultTtlMs);
  }

  #cancel(uuid: string, reason: string, resultTtlMs: number): Promise<CancelOutcome> {
    let fields = this.storage.fields(uuid);
    if (fields?.flow_kind !== undefined) {
      return Promise.resolve(this.#cancelFlow(uuid, reason, resultTtlMs));
    }
    // A retried attempt: cancel the latest attempt of its chain (an expired one: finished).
    let hops = 0;
    for (; hops < 1000 && fields?.status === "retry" && fields.retry_child_uuid; hops++) {
      uuid = fields.retry_child_uuid;
      fields = this.storage.fields(uuid);
    }
    if (!fields) return Promise.resolve(hops > 0 ? "finished" : "missing");
    if (fields.status === "new") {
      this.#cancelled.add(uuid);
      this.#endCancelled(uuid, reason, resultTtlMs);
      return Promise.resolve("cancelled");
    }
    if (fields.status === "process") {
      this.storage.write(uuid, { cancel_requested: reason });
      for (const listener of [...this.#cancelListeners]) listener(uuid, reason);
      return Promise.resolve("cancelling");
    }
    return Promise.resolve("finished");
  }

  /** Ends a record as `cancel` now. */
  #endCancelled(uuid: string, reason: string, resultTtlMs: number): void {
    const stamp = toUnixSeconds(this.storage.now());
    this.#finish(uuid, {
      status: "cancel",
      cancel_reason: reason,
      updated_at: stamp,
      finished_at: stamp,
    }, resultTtlMs);
  }

  /**
   * Cancels a chain or group: its record ends as `cancel` at once, then its running steps are
   * cancelled (a chain's current step, a group's members); a step that still succeeds starts
   * nothing more.
   */
  #cancelFlow(uuid: string, reason: string, resultTtlMs: number): CancelOutcome {
    const fields = this.storage.fields(uuid)!;
    if (!isFlowRunning(fields.status)) return "finished";
    this.#endCancelled(uuid, reason, resultTtlMs);
    const steps = fields.flow_kind === "group"
      ? parseStringList(fields.flow_steps)
      : [fields.flow_current ?? ""];
    for (const step of steps) {
      if (step !== "" && this.storage.fields(step)) void this.#cancel(step, reason, resultTtlMs);
    }
    return "cancelled";
  }

  /** Calls `listener` when a running task's cancel is requested. */
  watchCancellations(
    listener: (uuid: string, reason: string) => void,
  ): Promise<() => void> {
    this.#cancelListeners.add(listener);
    return Promise.resolve(() => void this.#cancelListeners.delete(listener));
  }

  /**
   * Stores a running task's progress when `workerId` holds its delivery `deliveries`; wakes the
   * record's waiters.
   */
  reportProgress(
    workerId: string,
    uuid: string,
    deliveries: number,
    progress: string,
  ): Promise<boolean> {
    const lease = this.#leases.get(uuid);
    if (!lease || lease.workerId !== workerId || lease.deliveries !== deliveries) {
      return Promise.resolve(false);
    }
    this.storage.write(uuid, { progress, updated_at: toUnixSeconds(this.storage.now()) });
    return Promise.resolve(true);
  }

  /** Appends a line to a running task's log when `workerId` holds its delivery `deliveries`. */
  appendLog(
    workerId: string,
    uuid: string,
    deliveries: number,
    line: string,
    caps: { maxLines: number; maxBytes: number },
  ): Promise<boolean> {
    const lease = this.#leases.get(uuid);
    const fields = this.storage.fields(uuid);
    if (!lease || !fields || lease.workerId !== workerId || lease.deliveries !== deliveries) {
      return Promise.resolve(false);
    }
    this.storage.write(
      uuid,
      appendLogLine(fields.logs, fields.logs_dropped, line, caps.maxLines, caps.maxBytes),
    );
    return Promise.resolve(true);
  }

  /**
   * Resolves when a task is added or recovered (or a delayed one due earlier than every scheduled
   * task is added), after `timeoutMs`, or on abort; then claims.
   */
  async waitForTasks(
    timeoutMs: number,
    signal: AbortSignal,
    claim?: ExchangeRequest,
  ): Promise<ExchangeResult | undefined> {
    // A worker whose last claim skipped what is queued waits until something new is queued.
    const skipped = claim !== undefined && this.#skippedAt.get(claim.workerId) === this.#version;
    if ((skipped || !this.#anyQueued(claim?.queues)) && !signal.aborted) {
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

  /** Reads a record through the Storage. */
  get(uuid: string): Promise<TaskRecord | undefined> {
    return this.storage.get(uuid);
  }

  /** Counts the queued tasks per priority, and the quarantined, scheduled and claimed ones. */
  queueStats(): Promise<QueueStats> {
    const waiting = (entry: QueueEntry) =>
      !this.#cancelled.has(entry.uuid) && this.storage.fields(entry.uuid)?.status === "new";
    const counts = new Map<number, number>();
    let queued = 0;
    for (const entry of [this.#queue, ...this.#named.values()].flatMap((h) => h.values())) {
      if (!waiting(entry)) continue;
      queued++;
      counts.set(entry.priority, (counts.get(entry.priority) ?? 0) + 1);
    }
    return Promise.resolve({
      queued,
      byPriority: [...counts].sort((a, b) => a[0] - b[0]).map(([priority, count]) => ({
        priority,
        count,
      })),
      quarantined: this.#quarantine.values().filter(waiting).length,
      scheduled: this.#scheduled.values().filter(waiting).length,
      inFlight: this.#leases.size,
    });
  }

  /** Empties the queue, the leases and the storage. */
  async flushAll(): Promise<void> {
    this.#queue.clear();
    this.#named.clear();
    this.#quarantine.clear();
    this.#scheduled.clear();
    this.#cancelled.clear();
    this.#parked.clear();
    this.#slots.clear();
    this.#slotOf.clear();
    this.#slotWaiting.clear();
    this.#rateLog.clear();
    this.#rateWaiting.clear();
    this.#rateDue.clear();
    this.#paused.clear();
    this.#leases.clear();
    await this.storage.flushAll();
  }

  /**
   * Takes a slot of a concurrency-limited task's limit; when the slot is full, parks the entry
   * until a running task of the slot ends (then returns false).
   */
  #takeSlot(entry: QueueEntry, slot: string, fields: TaskFields): boolean {
    const limit = Number(fields.conc_limit) || 1;
    let running = this.#slots.get(slot);
    if (running !== undefined && running.size >= limit) {
      let waiting = this.#slotWaiting.get(slot);
      if (!waiting) {
        waiting = new PriorityHeap<QueueEntry>(byPriorityThenSeq);
        this.#slotWaiting.set(slot, waiting);
      }
      waiting.push(entry);
      return false;
    }
    if (!running) {
      running = new Set();
      this.#slots.set(slot, running);
    }
    running.add(entry.uuid);
    this.#slotOf.set(entry.uuid, slot);
    return true;
  }

  /** Frees a running task's slot (if it holds one) and moves one parked task of it back. */
  #freeSlot(uuid: string): void {
    const slot = this.#slotOf.get(uuid);
    if (slot === undefined) return;
    this.#slotOf.delete(uuid);
    const running = this.#slots.get(slot);
    running?.delete(uuid);
    if (running?.size === 0) this.#slots.delete(slot);
    this.#kickSlot(slot, this.storage.fields(uuid)?.conc_limit);
  }

  /**
   * Queues the slot's first parked task that still waits, when the slot has room (entries of
   * tasks no longer waiting are dropped).
   */
  #kickSlot(slot: string, limit: string | undefined): void {
    if ((this.#slots.get(slot)?.size ?? 0) >= (Number(limit) || 1)) return;
    const waiting = this.#slotWaiting.get(slot);
    if (!waiting) return;
    for (let next = waiting.pop(); next; next = waiting.pop()) {
      if (this.storage.fields(next.uuid)?.status !== "new") continue;
      this.#push(next);
      this.#wake();
      break;
    }
    if (waiting.size === 0) this.#slotWaiting.delete(slot);
  }

  /**
   * Logs a start of a rate-limited task's slot when its window has room; else parks the entry
   * until it has (then returns false).
   */
  #rateTake(entry: QueueEntry, spec: string, now: number): boolean {
    const { limit, durationMs, slot } = rateSpec(spec);
    const log = this.#rateLogOf(slot, now - durationMs);
    if (log.length < limit) {
      log.push(now);
      return true;
    }
    let waiting = this.#rateWaiting.get(slot);
    if (!waiting) {
      waiting = new PriorityHeap<QueueEntry>(byPriorityThenSeq);
      this.#rateWaiting.set(slot, waiting);
    }
    waiting.push(entry);
    const due = log[0] + durationMs;
    this.#rateDue.set(spec, Math.min(this.#rateDue.get(spec) ?? due, due));
    return false;
  }

  /** A slot's log of starts, without those at or before `after`. */
  #rateLogOf(slot: string, after: number): number[] {
    let log = this.#rateLog.get(slot);
    if (!log) {
      log = [];
      this.#rateLog.set(slot, log);
    }
    let old = 0;
    while (old < log.length && log[old] <= after) old++;
    if (old > 0) log.splice(0, old);
    return log;
  }

  /**
   * Moves the parked tasks of the slots whose window has room back into their queues (as many as
   * it has room for; a claim that still finds it full parks them again).
   */
  #rateWake(now: number): void {
    for (const [spec, due] of this.#rateDue) {
      if (due > now) continue;
      const { limit, durationMs, slot } = rateSpec(spec);
      const log = this.#rateLogOf(slot, now - durationMs);
      const waiting = this.#rateWaiting.get(slot);
      let room = limit - log.length;
      while (waiting && room > 0) {
        const next = waiting.pop();
        if (!next) break;
        if (this.storage.fields(next.uuid)?.status !== "new") continue;
        this.#push(next);
        room--;
      }
      this.#rateDue.delete(spec);
      if (waiting && waiting.size > 0) this.#rateDue.set(spec, (log[0] ?? now) + durationMs);
      else {
        this.#rateWaiting.delete(slot);
        if (log.length === 0) this.#rateLog.delete(slot);
      }
    }
    this.#wake();
  }

  /**
   * Gives a running task back as a delayed one (a remote rate limit): status `new`, `run_at`
   * `delayMs` from now, scheduled; `rate_deferred` counts it (recovery subtracts it from the
   * deliveries).
   */
  #defer(uuid: string, now: number, delayMs: number): void {
    const fields = this.storage.fields(uuid);
    if (!fields) return;
    const due = now + Math.max(0, Math.ceil(delayMs));
    const stamp = toUnixSeconds(now);
    this.storage.write(uuid, {
      status: "new",
      worker_id: "",
      updated_at: stamp,
      past_deliveries: appendPastDelivery(fields.past_deliveries, fields, stamp, "released"),
      run_at: toUnixSeconds(due),
      rate_deferred: String((Number(fields.rate_deferred) || 0) + 1),
    });
    this.#schedule(
      {
        priority: Number(fields.priority ?? 0),
        seq: Number(fields.seq ?? 0),
        uuid,
      },
      due,
      now,
    );
  }

  /** Queues an entry in its record's queue. */
  #push(entry: QueueEntry): void {
    this.#version++;
    this.#heap(this.storage.fields(entry.uuid)?.queue).push(entry);
  }

  /** The heap of a queue (created on first use). */
  #heap(name: string | undefined): PriorityHeap<QueueEntry> {
    if (name === undefined || name === DEFAULT_QUEUE) return this.#queue;
    let heap = this.#named.get(name);
    if (!heap) {
      heap = new PriorityHeap<QueueEntry>(byPriorityThenSeq);
      this.#named.set(name, heap);
    }
    return heap;
  }

  /** Whether any of these queues (absent: the default one) or the quarantine holds entries. */
  #anyQueued(queues: readonly string[] | undefined): boolean {
    if (this.#quarantine.size > 0) return true;
    if (queues === undefined) return this.#queue.size > 0;
    return queues.some((name) => this.#heap(name).size > 0);
  }

  #requeue(
    uuid: string,
    stamp: string,
    end: DeliveryEnd,
    quarantine?: PriorityHeap<QueueEntry>,
  ): void {
    const fields = this.storage.fields(uuid);
    if (!fields) return;
    this.storage.write(uuid, {
      status: "new",
      worker_id: "",
      updated_at: stamp,
      past_deliveries: appendPastDelivery(fields.past_deliveries, fields, stamp, end),
    });
    this.#version++;
    (quarantine ?? this.#heap(fields.queue)).push({
      priority: Number(fields.priority ?? 0),
      seq: Number(fields.seq ?? 0),
      uuid,
    });
  }

  #finish(uuid: string, fields: TaskFields, ttlMs: number): void {
    const stored = this.storage.fields(uuid);
    const flow = stored?.flow;
    // The next steps of a flow carry the headers of the task that started them.
    const headers = stored?.headers;
    this.storage.write(uuid, fields);
    this.storage.expire(uuid, ttlMs);
    if (flow !== undefined && fields.status !== "retry") {
      this.#flowAfter(uuid, flow, fields, ttlMs, headers);
    }
  }

  /**
   * A task of a chain or group reached a final status (as the Redis scripts' flowAfter): on
   * success the next step starts with its result (a group's last member to finish starts it with
   * all their results, in order); otherwise its group and chain end with its status and error.
   */
  #flowAfter(
    uuid: string,
    text: string,
    fields: TaskFields,
    ttlMs: number,
    headers: string | undefined,
  ): void {
    const link = parseFlowLink(text);
    if (link === undefined) return;
    const stamp = fields.updated_at ?? toUnixSeconds(this.storage.now());
    if (fields.status !== "success") {
      const failure: TaskFields = { status: fields.status, flow_failed_uuid: uuid };
      for (const name of FLOW_ERROR_FIELDS) {
        if (fields[name] !== undefined) failure[name] = fields[name];
      }
      if (link.group) this.#flowEnd(link.group.uuid, failure, stamp, ttlMs);
      if (link.chain) this.#flowEnd(link.chain, failure, stamp, ttlMs);
      return;
    }
    let previous = fields.returning ?? "null";
    if (link.group) {
      const { uuid: group, index, size } = link.group;
      const record = this.storage.fields(group);
      if (!isFlowRunning(record?.status)) return;
      const done = Number(record!.flow_done ?? 0) + 1;
      this.storage.write(group, { [`flow_result_${index}`]: previous, flow_done: String(done) });
      if (done < size) return;
      const results: string[] = [];
      const stored = this.storage.fields(group)!;
      for (let i = 0; i < size; i++) results.push(stored[`flow_result_${i}`] ?? "null");
      for (let i = 0; i < size; i++) delete stored[`flow_result_${i}`];
      previous = `[${results.join(",")}]`;
      this.#flowEnd(group, { status: "success", returning: previous }, stamp, ttlMs);
    }
    if (link.chain && !isFlowRunning(this.storage.fields(link.chain)?.status)) return;
    const [step, ...rest] = link.next;
    if (step === undefined) {
      if (link.chain) {
        this.#flowEnd(link.chain, { status: "success", returning: previous }, stamp, ttlMs);
      }
      return;
    }
    this.#flowStart(step, previous, link.chain, rest, stamp, headers);
  }

  /** Starts a step of a flow: its task, or its group's record and tasks. */
  #flowStart(
    step: FlowStep,
    previous: string,
    chain: string | undefined,
    rest: FlowStep[],
    stamp: string,
    headers: string | undefined,
  ): void {
    if (isGroupStep(step)) {
      if (!this.storage.fields(step.group)) {
        this.storage.write(
          step.group,
          {
            ...flowRecordFields(
              { uuid: step.group, kind: "group", steps: step.members.map((m) => m.uuid) },
              stamp,
            ),
            seq: String(++this.#seq),
          },
        );
      }
      const size = step.members.length;
      step.members.forEach((member, index) => {
        const link: FlowLink = { next: rest, group: { uuid: step.group, index, size } };
        if (chain) link.chain = chain;
        this.#flowTask(member, previous, link, stamp, headers);
      });
    } else {
      const link: FlowLink = { next: rest };
      if (chain) link.chain = chain;
      this.#flowTask(step, previous, link, stamp, headers);
    }
    if (chain) {
      this.storage.write(chain, { flow_current: isGroupStep(step) ? step.group : step.uuid });
    }
  }

  /** Stores and queues one task of a flow (unless its uuid exists). */
  #flowTask(
    step: FlowTaskStep,
    previous: string,
    link: FlowLink,
    stamp: string,
    headers: string | undefined,
  ): void {
    if (this.storage.fields(step.uuid)) return;
    const seq = ++this.#seq;
    this.storage.write(step.uuid, {
      ...(headers === undefined ? undefined : { headers }),
      ...step.extra,
      task_name: step.name,
      priority: String(step.priority),
      args: stepArgs(previous, step.args),
      kwargs: "{}",
      status: "new",
      created_at: stamp,
      updated_at: stamp,
      seq: String(seq),
      deliveries: "0",
      flow: JSON.stringify(link),
      ...(step.queue === undefined ? {} : { queue: step.queue }),
    });
    this.#push({ priority: step.priority, seq, uuid: step.uuid });
    this.#wake();
  }

  /** Ends a chain or group record that is still running. */
  #flowEnd(uuid: string, fields: TaskFields, stamp: string, ttlMs: number): void {
    if (!isFlowRunning(this.storage.fields(uuid)?.status)) return;
    this.#finish(uuid, { ...fields, updated_at: stamp, finished_at: stamp }, ttlMs);
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}

/** The error fields of a task ended by the delivery limit (traceback: "type: message"). */
function deliveryLimitFields(deliveries: number): TaskFields {
  const error = new DeliveryLimitError(deliveries);
  return errorFields({ type: error.name, code: error.code, message: error.message });
}

/** A record's `rate_limit`: "<limit> <durationMs> <slot>". */
function rateSpec(spec: string): { limit: number; durationMs: number; slot: string } {
  const match = /^(\d+) (\d+) (.+)$/s.exec(spec);
  if (!match) return { limit: 1, durationMs: 1000, slot: spec };
  return { limit: Number(match[1]) || 1, durationMs: Number(match[2]) || 1000, slot: match[3] };
}

/** The error fields of a task that was not started by its deadline. */
function expiredFields(): TaskFields {
  const error = new TaskExpiredError();
  return errorFields({ type: error.name, code: error.code, message: error.message });
}

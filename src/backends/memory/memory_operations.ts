import { OPERATOR_RETRY_DROPPED_FIELDS } from "../../model/_attempt_fields.ts";
import type { MemoryStorage } from "./memory_storage.ts";
import { decodeTaskRecord, type TaskFields, toUnixSeconds } from "../../model/task_codec.ts";
import type { TaskRecord } from "../../model/task_record.ts";
import { DuplicateTaskError } from "../../model/errors/duplicate_task_error.ts";
import { TaskStateError } from "../../model/errors/task_state_error.ts";
import {
  checkTaskQuery,
  encodeCursor,
  type QueryStatus,
  queryStatusOf,
  type TaskCounts,
  type TaskEvent,
  type TaskPage,
  type TaskQuery,
  zeroCounts,
} from "../../model/task_query.ts";
import { decodeLogs } from "../../model/_task_log.ts";
import {
  checkCleanOptions,
  checkDrainOptions,
  checkFindPrefix,
  checkRetryAllFilter,
  checkTaskNameArg,
  checkUuid,
  pausedStateOf,
} from "../../ports/_operations_checks.ts";
import type {
  CleanOptions,
  DrainOptions,
  PausedState,
  QueueOperations,
  RetryAllFilter,
  SubscribeOptions,
  TaskLogLine,
} from "../../ports/queue_operations.ts";
import { newTaskUuid } from "../../model/task_uuid.ts";

/**
 * What {@linkcode MemoryOperations} needs from its {@linkcode MemoryBroker}: the queue's private
 * parts, as closures.
 *
 * @example
 * ```ts
 * import type { MemoryQueueHost } from "./memory_operations.ts";
 *
 * function hasPaused(host: MemoryQueueHost): boolean {
 *   return host.paused.size > 0;
 * }
 * ```
 */
export interface MemoryQueueHost {
  /** The broker's storage. */
  readonly storage: MemoryStorage;
  /** Paused task names (`*`: the app). */
  readonly paused: Set<string>;
  /** The next sequence number. */
  nextSeq(): number;
  /** Queues an entry now and wakes the workers. */
  enqueue(entry: { priority: number; seq: number; uuid: string }): void;
  /** Forgets a waiting task's queue, schedule or parking entry (it is skipped when popped). */
  unqueue(uuid: string): void;
  /** Puts a task name's parked entries back into the queue and wakes the workers. */
  unpark(taskName: string | undefined): void;
}

/** Fields that describe one attempt: an operator's retry starts without them. */
const DROPPED_ON_RETRY: ReadonlySet<string> = new Set(OPERATOR_RETRY_DROPPED_FIELDS);

/**
 * The in-memory {@linkcode QueueOperations} (`MemoryBroker.operations`): the same semantics as
 * the Redis ones, read from the records themselves (one process: no index needed).
 *
 * @example
 * ```ts
 * import { MemoryBroker } from "@qtasks/qtasks/memory";
 *
 * const broker = new MemoryBroker({ name: "ops-demo" });
 * await broker.operations.pause("report");
 * console.log(await broker.operations.paused()); // { app: false, taskNames: ["report"] }
 * ```
 */
export class MemoryOperations implements QueueOperations {
  readonly #host: MemoryQueueHost;

  /**
   * Creates the operations of a memory broker.
   *
   * @param host The broker's queue, as closures.
   */
  constructor(host: MemoryQueueHost) {
    this.#host = host;
  }

  /** Every record with its query status and seq, newest first. */
  #entries(): Array<{ uuid: string; fields: TaskFields; status: QueryStatus; seq: number }> {
    const now = this.#host.storage.now();
    const out: Array<{ uuid: string; fields: TaskFields; status: QueryStatus; seq: number }> = [];
    for (const [uuid, fields] of this.#host.storage.entries()) {
      const status = queryStatusOf(fields.status, fields.run_at, now);
      if (status) out.push({ uuid, fields, status, seq: Number(fields.seq ?? 0) || 0 });
    }
    return out.sort((a, b) => b.seq - a.seq);
  }

  /** One page of records, newest first. */
  list(query?: TaskQuery): Promise<TaskPage> {
    try {
      const checked = checkTaskQuery(query);
      const matching = this.#entries().filter((e) =>
        e.seq < checked.before && (!checked.status || e.status === checked.status) &&
        (!checked.taskName || e.fields.task_name === checked.taskName)
      );
      const records: TaskRecord[] = [];
      for (const entry of matching.slice(0, checked.limit)) {
        const record = decodeTaskRecord(entry.uuid, entry.fields);
        if (record) records.push(record);
      }
      const page: TaskPage = { records };
      if (matching.length > checked.limit) {
        page.cursor = encodeCursor(matching[checked.limit - 1].seq);
      }
      return Promise.resolve(page);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The records whose uuid starts with `prefix`, in uuid order. */
  find(prefix: string, limit = 10): Promise<TaskRecord[]> {
    try {
      checkFindPrefix(prefix, limit);
    } catch (error) {
      return Promise.reject(error);
    }
    const uuids = this.#entries().map((e) => e.uuid).filter((uuid) => uuid.startsWith(prefix))
      .sort().slice(0, limit);
    const records: TaskRecord[] = [];
    for (const uuid of uuids) {
      const record = decodeTaskRecord(uuid, this.#host.storage.fields(uuid)!);
      if (record) records.push(record);
    }
    return Promise.resolve(records);
  }

  /** Counts per status and task name, and what is paused. */
  async counts(): Promise<TaskCounts> {
    const byStatus = zeroCounts();
    const byTaskName: TaskCounts["byTaskName"] = {};
    for (const entry of this.#entries()) {
      byStatus[entry.status]++;
      const name = entry.fields.task_name ?? "";
      (byTaskName[name] ??= zeroCounts())[entry.status]++;
    }
    const sorted: TaskCounts["byTaskName"] = {};
    for (const name of Object.keys(byTaskName).sort()) sorted[name] = byTaskName[name];
    return { byStatus, byTaskName: sorted, paused: await this.paused() };
  }

  /** Retries a failed or cancelled task as a new attempt. */
  retry(uuid: string, childUuid: string = newTaskUuid()): Promise<string | undefined> {
    try {
      checkUuid("retry", uuid);
      checkUuid("retry", childUuid);
      return Promise.resolve(this.#retry(uuid, childUuid));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #retry(uuid: string, child: string): string | undefined {
    const storage = this.#host.storage;
    const parent = storage.fields(uuid);
    if (!parent) return undefined;
    if ((parent.status !== "error" && parent.status !== "cancel") || parent.flow_kind) {
      const status = queryStatusOf(parent.status, parent.run_at, storage.now()) ?? "unknown";
      throw new TaskStateError("retry", uuid, status);
    }
    if (storage.fields(child)) throw new DuplicateTaskError("(retry)", child);
    const stamp = toUnixSeconds(storage.now());
    const copy: TaskFields = {};
    for (const [field, value] of Object.entries(parent)) {
      if (!DROPPED_ON_RETRY.has(field)) copy[field] = value;
    }
    const seq = this.#host.nextSeq();
    storage.write(child, {
      ...copy,
      status: "new",
      created_at: stamp,
      updated_at: stamp,
      seq: String(seq),
      deliveries: "0",
      retry_parent_uuid: uuid,
      attempt: String((Number(parent.attempt) || 1) + 1),
    });
    storage.write(uuid, { status: "retry", retry_child_uuid: child, updated_at: stamp });
    this.#host.enqueue({ priority: Number(parent.priority) || 0, seq, uuid: child });
    return child;
  }

  /** Retries every matching failed task, newest first. */
  retryAll(filter: RetryAllFilter = {}): Promise<number> {
    try {
      const checked = checkRetryAllFilter(filter);
      let count = 0;
      for (const entry of this.#entries()) {
        if (count >= checked.limit) break;
        if (!(checked.statuses as string[]).includes(entry.status)) continue;
        if (checked.taskName && entry.fields.task_name !== checked.taskName) continue;
        const finished = Number(entry.fields.finished_at) * 1000;
        if (checked.sinceMs !== undefined && !(finished >= checked.sinceMs)) continue;
        if (this.#retry(entry.uuid, newTaskUuid())) count++;
      }
      return Promise.resolve(count);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Deletes a queued, scheduled or finished task. */
  delete(uuid: string): Promise<boolean> {
    try {
      checkUuid("delete", uuid);
      const fields = this.#host.storage.fields(uuid);
      if (!fields) return Promise.resolve(false);
      if (fields.status === "process") throw new TaskStateError("delete", uuid, "running");
      this.#remove(uuid, fields);
      return Promise.resolve(true);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #remove(uuid: string, fields: TaskFields): void {
    if (fields.status === "new") this.#host.unqueue(uuid);
    this.#host.storage.remove(uuid);
  }

  /** Deletes finished records by status, task name and age. */
  clean(options: CleanOptions): Promise<number> {
    try {
      const checked = checkCleanOptions(options);
      const cutoff = this.#host.storage.now() - checked.olderThanMs;
      let count = 0;
      for (const entry of this.#entries()) {
        if (count >= checked.limit) break;
        if (entry.status !== checked.status) continue;
        if (checked.taskName && entry.fields.task_name !== checked.taskName) continue;
        if (!(Number(entry.fields.finished_at) * 1000 <= cutoff)) continue;
        this.#remove(entry.uuid, entry.fields);
        count++;
      }
      return Promise.resolve(count);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Deletes every queued and scheduled task. */
  drain(options: DrainOptions = {}): Promise<number> {
    try {
      const checked = checkDrainOptions(options);
      let count = 0;
      for (const entry of this.#entries()) {
        if (entry.status !== "queued" && entry.status !== "scheduled") continue;
        if (checked.taskName && entry.fields.task_name !== checked.taskName) continue;
        this.#remove(entry.uuid, entry.fields);
        count++;
      }
      return Promise.resolve(count);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Pauses the app or a task name. */
  pause(taskName?: string): Promise<void> {
    try {
      checkTaskNameArg("pause", taskName);
      this.#host.paused.add(taskName ?? "*");
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Resumes the app or a task name. */
  resume(taskName?: string): Promise<void> {
    try {
      checkTaskNameArg("resume", taskName);
      this.#host.paused.delete(taskName ?? "*");
      this.#host.unpark(taskName);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** What is paused. */
  paused(): Promise<PausedState> {
    const names = [...this.#host.paused];
    return Promise.resolve(pausedStateOf(names));
  }

  /** Calls `listener` on every status change and progress report, synchronously. */
  subscribe(
    listener: (event: TaskEvent) => void,
    options: SubscribeOptions = {},
  ): Promise<() => void> {
    const names = options.taskNames ? new Set(options.taskNames) : undefined;
    const storage = this.#host.storage;
    return Promise.resolve(storage.watchAll((uuid, changed, fields) => {
      const name = fields?.task_name ?? "";
      if (names && !names.has(name)) return;
      let status: TaskEvent["status"] | undefined;
      if (!fields) status = "deleted";
      else if (changed.status !== undefined) {
        status = queryStatusOf(changed.status, fields.run_at, storage.now());
      } else if (changed.progress !== undefined) status = "progress";
      if (status) listener({ uuid, taskName: name, status, at: new Date(storage.now()) });
    }));
  }

  /** A task's log lines. */
  logs(uuid: string): Promise<TaskLogLine[] | undefined> {
    try {
      checkUuid("read the logs of", uuid);
    } catch (error) {
      return Promise.reject(error);
    }
    const fields = this.#host.storage.fields(uuid);
    return Promise.resolve(fields ? decodeLogs(fields.logs, fields.logs_dropped) : undefined);
  }
}

import type { RedisConnection } from "./redis_connection.ts";
import { partitionOf, type RedisKeys } from "./redis_keys.ts";
import { decodeOpsList, encodeOpsList, opsListScript } from "./scripts/_ops_list.ts";
import { decodeOpsCounts, encodeOpsCounts, opsCountsScript } from "./scripts/_ops_counts.ts";
import {
  decodeOpsRetryOne,
  decodeOpsRetryScan,
  encodeOpsRetryOne,
  encodeOpsRetryScan,
  opsRetryScript,
} from "./scripts/_ops_retry.ts";
import {
  decodeOpsRemoveOne,
  decodeOpsRemoveScan,
  encodeOpsRemoveOne,
  encodeOpsRemoveScan,
  opsRemoveScript,
} from "./scripts/_ops_remove.ts";
import { decodeOpsPause, encodeOpsPause, opsPauseScript } from "./scripts/_ops_pause.ts";
import { decodeTaskRecord } from "../../model/task_codec.ts";
import type { TaskRecord } from "../../model/task_record.ts";
import { DuplicateTaskError } from "../../model/errors/duplicate_task_error.ts";
import { TaskStateError } from "../../model/errors/task_state_error.ts";
import {
  checkTaskQuery,
  encodeCursor,
  type QueryStatus,
  type TaskCounts,
  type TaskEvent,
  type TaskPage,
  type TaskQuery,
} from "../../model/task_query.ts";
import { decodeLogs } from "../../model/_task_log.ts";
import {
  checkCleanOptions,
  checkDrainOptions,
  checkFindPrefix,
  checkRetryAllFilter,
  checkTaskNameArg,
  checkUuid,
  parseTaskEvent,
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

/** Index entries one chunk of a bulk operation reads at most (each chunk is one atomic script). */
const CHUNK_SCAN = 1000;
/** Tasks one chunk of `retryAll` retries at most. */
const CHUNK_RETRY = 100;
/** Records one chunk of `clean` or `drain` deletes at most. */
const CHUNK_DELETE = 500;

/**
 * The {@linkcode QueueOperations} of a Redis app (`RedisBroker.operations`): every read is one
 * script over the indexes that the enqueue, exchange and cancel scripts keep in the same atomic
 * step as each status change (src/backends/redis/scripts/_index_lua.ts); every write is one
 * script per task or per chunk.
 *
 * @example
 * ```ts
 * import { RedisBroker } from "@qtasks/qtasks/redis";
 *
 * const broker = new RedisBroker({ name: "shop", url: "redis://127.0.0.1:6379" });
 * const counts = await broker.operations.counts();
 * console.log(counts.byStatus.error);
 * await broker.stop();
 * ```
 */
export class RedisOperations implements QueueOperations {
  readonly #connection: RedisConnection;
  readonly #keys: RedisKeys;
  /** Every partition's keys (partition 0 is `#keys`). */
  readonly #parts: readonly RedisKeys[];

  /**
   * Creates the operations of an app.
   *
   * @param connection The app's connection.
   * @param keys The app's keys.
   * @param partitions Every partition's keys, partition 0 (`keys`) first (default: `[keys]`).
   */
  constructor(connection: RedisConnection, keys: RedisKeys, partitions?: readonly RedisKeys[]) {
    this.#connection = connection;
    this.#keys = keys;
    this.#parts = partitions ?? [keys];
  }

  /** The partitions to look for a uuid's record in: its own first (see partitionOf). */
  #lookupOrder(uuid: string): RedisKeys[] {
    const count = this.#parts.length;
    const first = partitionOf(uuid, count);
    return Array.from({ length: count }, (_, i) => this.#parts[(first + i) % count]);
  }

  /** One page of records, newest first: one script over the indexes. */
  async list(query?: TaskQuery): Promise<TaskPage> {
    const checked = checkTaskQuery(query);
    const count = this.#parts.length;
    if (count === 1) {
      const input = { before: checked.before, limit: checked.limit, taskName: checked.taskName };
      const { keys, args } = encodeOpsList(
        this.#keys,
        checked.status ? { ...input, status: checked.status } : input,
      );
      const page = decodeOpsList(await this.#connection.script(opsListScript, keys, args));
      const records: TaskRecord[] = [];
      for (const [uuid, fields] of page.entries) {
        const record = decodeTaskRecord(uuid, fields);
        if (record) records.push(record);
      }
      return page.next === undefined ? { records } : { records, cursor: encodeCursor(page.next) };
    }
    // Partitioned: each partition's page, merged newest first by (seq, partition); the cursor
    // is seq * partitions + partition of the last record given (seqs are per partition).
    const cursorSeq = Math.floor(checked.before / count);
    const cursorPart = checked.before % count;
    let more = false;
    const merged: Array<{ seq: number; part: number; record: TaskRecord }> = [];
    await Promise.all(this.#parts.map(async (partition, q) => {
      const before = checked.before === Infinity
        ? Infinity
        : q < cursorPart
        ? cursorSeq + 1
        : cursorSeq;
      const input = { before, limit: checked.limit, taskName: checked.taskName };
      const { keys, args } = encodeOpsList(
        partition,
        checked.status ? { ...input, status: checked.status } : input,
      );
      const page = decodeOpsList(await this.#connection.script(opsListScript, keys, args));
      if (page.next !== undefined) more = true;
      for (const [uuid, fields] of page.entries) {
        const record = decodeTaskRecord(uuid, fields);
        if (record) merged.push({ seq: Number(fields.seq) || 0, part: q, record });
      }
    }));
    merged.sort((a, b) => b.seq - a.seq || b.part - a.part);
    if (merged.length > checked.limit) more = true;
    const page = merged.slice(0, checked.limit);
    const last = page.at(-1);
    const records = page.map((entry) => entry.record);
    return more && last !== undefined
      ? { records, cursor: encodeCursor(last.seq * count + last.part) }
      : { records };
  }

  /** The records whose uuid starts with `prefix`: a ZRANGEBYLEX of the uuid index. */
  async find(prefix: string, limit = 10): Promise<TaskRecord[]> {
    checkFindPrefix(prefix, limit);
    const found: Array<{ uuid: string; keys: RedisKeys }> = [];
    for (const keys of this.#parts) {
      const uuids = await this.#connection.command([
        "ZRANGEBYLEX",
        `${keys.prefix}i:uuids`,
        `[${prefix}`,
        `[${prefix}\xff`,
        "LIMIT",
        "0",
        String(limit),
      ]) as string[];
      for (const uuid of uuids) found.push({ uuid, keys });
    }
    found.sort((a, b) => a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0);
    const records: TaskRecord[] = [];
    for (const { uuid, keys } of found.slice(0, limit)) {
      const fields = await this.#connection.command(["HGETALL", keys.task(uuid)]);
      const record = decodeTaskRecord(uuid, pairs(fields));
      if (record) records.push(record);
    }
    return records;
  }

  /** Counts per status and task name, and what is paused: one script. */
  async counts(): Promise<TaskCounts> {
    const all = await Promise.all(this.#parts.map(async (partition) => {
      const { keys, args } = encodeOpsCounts(partition);
      return decodeOpsCounts(await this.#connection.script(opsCountsScript, keys, args));
    }));
    const [total, ...rest] = all;
    // Partitioned: added up (the paused state is the same in every partition: partition 0's).
    for (const counts of rest) {
      for (const status of Object.keys(counts.byStatus) as QueryStatus[]) {
        total.byStatus[status] += counts.byStatus[status];
      }
      for (const [name, byStatus] of Object.entries(counts.byTaskName)) {
        const into = total.byTaskName[name];
        if (!into) {
          total.byTaskName[name] = byStatus;
          continue;
        }
        for (const status of Object.keys(byStatus) as QueryStatus[]) {
          into[status] += byStatus[status];
        }
      }
    }
    return total;
  }

  /** Retries a failed or cancelled task: one script. */
  async retry(uuid: string, childUuid: string = newTaskUuid()): Promise<string | undefined> {
    checkUuid("retry", uuid);
    checkUuid("retry", childUuid);
    let result: ReturnType<typeof decodeOpsRetryOne> = { outcome: "missing" };
    for (const partition of this.#lookupOrder(uuid)) {
      const { keys, args } = encodeOpsRetryOne(partition, uuid, childUuid);
      result = decodeOpsRetryOne(await this.#connection.script(opsRetryScript, keys, args));
      if (result.outcome !== "missing") break;
    }
    switch (result.outcome) {
      case "ok":
        return result.child;
      case "missing":
        return undefined;
      case "exists":
        throw new DuplicateTaskError("(retry)", childUuid);
      default:
        throw new TaskStateError("retry", uuid, result.status);
    }
  }

  /** Retries every matching failed task, in chunks of one script each. */
  async retryAll(filter: RetryAllFilter = {}): Promise<number> {
    const checked = checkRetryAllFilter(filter);
    let total = 0;
    for (const partition of this.#parts) {
      for (const status of checked.statuses) {
        let before = Infinity;
        while (total < checked.limit) {
          const count = Math.min(CHUNK_RETRY, checked.limit - total);
          const input = {
            status,
            before,
            budget: CHUNK_SCAN,
            children: Array.from({ length: count }, () => newTaskUuid()),
            ...(checked.taskName === undefined ? {} : { taskName: checked.taskName }),
            ...(checked.sinceMs === undefined ? {} : { sinceMs: checked.sinceMs }),
          };
          const { keys, args } = encodeOpsRetryScan(partition, input);
          const chunk = decodeOpsRetryScan(
            await this.#connection.script(opsRetryScript, keys, args),
          );
          total += chunk.retried;
          if (chunk.next === undefined) break;
          before = chunk.next;
        }
      }
    }
    return total;
  }

  /** Deletes a queued, scheduled or finished task: one script. */
  async delete(uuid: string): Promise<boolean> {
    checkUuid("delete", uuid);
    let outcome: ReturnType<typeof decodeOpsRemoveOne> = "missing";
    for (const partition of this.#lookupOrder(uuid)) {
      const { keys, args } = encodeOpsRemoveOne(partition, uuid);
      outcome = decodeOpsRemoveOne(await this.#connection.script(opsRemoveScript, keys, args));
      if (outcome !== "missing") break;
    }
    if (outcome === "running") throw new TaskStateError("delete", uuid, "running");
    return outcome === "ok";
  }

  /** Deletes finished records by status and age, in chunks of one script each. */
  async clean(options: CleanOptions): Promise<number> {
    const checked = checkCleanOptions(options);
    // No age: every record of that status (also one that finished within this millisecond).
    const cutoff = checked.olderThanMs > 0
      ? await this.#serverNow() - checked.olderThanMs
      : undefined;
    return await this.#removeAll([checked.status], checked.taskName, checked.limit, cutoff);
  }

  /** Deletes every queued and scheduled task, in chunks of one script each. */
  async drain(options: DrainOptions = {}): Promise<number> {
    const checked = checkDrainOptions(options);
    return await this.#removeAll(["queued", "scheduled"], checked.taskName, Infinity, undefined);
  }

  async #removeAll(
    statuses: string[],
    taskName: string | undefined,
    limit: number,
    finishedBeforeMs: number | undefined,
  ): Promise<number> {
    let total = 0;
    for (const partition of this.#parts) {
      for (const status of statuses) {
        let before = Infinity;
        while (total < limit) {
          const input = {
            status,
            before,
            budget: CHUNK_SCAN,
            most: Math.min(CHUNK_DELETE, limit - total),
            ...(taskName === undefined ? {} : { taskName }),
            ...(finishedBeforeMs === undefined ? {} : { finishedBeforeMs }),
          };
          const { keys, args } = encodeOpsRemoveScan(partition, input);
          const chunk = decodeOpsRemoveScan(
            await this.#connection.script(opsRemoveScript, keys, args),
          );
          total += chunk.deleted;
          if (chunk.next === undefined) break;
          before = chunk.next;
        }
      }
    }
    return total;
  }

  /** Pauses the app or a task name: one script. */
  async pause(taskName?: string): Promise<void> {
    checkTaskNameArg("pause", taskName);
    // Every partition holds the paused state (its claims read it in their own slot).
    for (const partition of this.#parts) {
      const { keys, args } = encodeOpsPause(partition, "pause", taskName);
      decodeOpsPause(await this.#connection.script(opsPauseScript, keys, args));
    }
  }

  /** Resumes the app or a task name (its parked tasks go back to the queue): one script. */
  async resume(taskName?: string): Promise<void> {
    checkTaskNameArg("resume", taskName);
    for (const partition of this.#parts) {
      const { keys, args } = encodeOpsPause(partition, "resume", taskName);
      decodeOpsPause(await this.#connection.script(opsPauseScript, keys, args));
    }
  }

  /** What is paused: one HKEYS. */
  async paused(): Promise<PausedState> {
    const names = (await this.#connection.command(["HKEYS", `${this.#keys.prefix}paused`]) as
      | string[]
      | null) ?? [];
    return pausedStateOf(names);
  }

  /** Follows `{app}:stream`, the channel every status-changing script publishes on. */
  async subscribe(
    listener: (event: TaskEvent) => void,
    options: SubscribeOptions = {},
  ): Promise<() => void> {
    const names = options.taskNames ? new Set(options.taskNames) : undefined;
    const removers: Array<() => void> = [];
    try {
      for (const partition of this.#parts) {
        removers.push(
          await this.#connection.subscribe(
            `${partition.prefix}stream`,
            (message) => {
              const event = parseTaskEvent(message);
              if (event && (!names || names.has(event.taskName))) listener(event);
            },
            // One gap callback however many channels (they share one subscriber connection).
            removers.length === 0 ? options.onGap : undefined,
          ),
        );
      }
    } catch (error) {
      for (const remove of removers) remove();
      throw error;
    }
    return removers.length === 1 ? removers[0] : () => {
      for (const remove of removers) remove();
    };
  }

  /** A task's log lines: one HMGET. */
  async logs(uuid: string): Promise<TaskLogLine[] | undefined> {
    checkUuid("read the logs of", uuid);
    for (const partition of this.#lookupOrder(uuid)) {
      const [status, logs, dropped] = await this.#connection.command([
        "HMGET",
        partition.task(uuid),
        "status",
        "logs",
        "logs_dropped",
      ]) as Array<string | null>;
      if (status === null || status === undefined) continue;
      return decodeLogs(logs ?? undefined, dropped ?? undefined);
    }
    return undefined;
  }

  async #serverNow(): Promise<number> {
    const [seconds, micros] = await this.#connection.command(["TIME"]) as [string, string];
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }
}

function pairs(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}

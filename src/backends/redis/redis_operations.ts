import type { RedisConnection } from "./redis_connection.ts";
import type { RedisKeys } from "./redis_keys.ts";
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

  /**
   * Creates the operations of an app.
   *
   * @param connection The app's connection.
   * @param keys The app's keys.
   */
  constructor(connection: RedisConnection, keys: RedisKeys) {
    this.#connection = connection;
    this.#keys = keys;
  }

  /** One page of records, newest first: one script over the indexes. */
  async list(query?: TaskQuery): Promise<TaskPage> {
    const checked = checkTaskQuery(query);
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

  /** The records whose uuid starts with `prefix`: a ZRANGEBYLEX of the uuid index. */
  async find(prefix: string, limit = 10): Promise<TaskRecord[]> {
    checkFindPrefix(prefix, limit);
    const uuids = await this.#connection.command([
      "ZRANGEBYLEX",
      `${this.#keys.prefix}i:uuids`,
      `[${prefix}`,
      `[${prefix}\xff`,
      "LIMIT",
      "0",
      String(limit),
    ]) as string[];
    const records: TaskRecord[] = [];
    for (const uuid of uuids) {
      const fields = await this.#connection.command(["HGETALL", this.#keys.task(uuid)]);
      const record = decodeTaskRecord(uuid, pairs(fields));
      if (record) records.push(record);
    }
    return records;
  }

  /** Counts per status and task name, and what is paused: one script. */
  async counts(): Promise<TaskCounts> {
    const { keys, args } = encodeOpsCounts(this.#keys);
    return decodeOpsCounts(await this.#connection.script(opsCountsScript, keys, args));
  }

  /** Retries a failed or cancelled task: one script. */
  async retry(uuid: string, childUuid: string = crypto.randomUUID()): Promise<string | undefined> {
    checkUuid("retry", uuid);
    checkUuid("retry", childUuid);
    const { keys, args } = encodeOpsRetryOne(this.#keys, uuid, childUuid);
    const result = decodeOpsRetryOne(await this.#connection.script(opsRetryScript, keys, args));
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
    for (const status of checked.statuses) {
      let before = Infinity;
      while (total < checked.limit) {
        const count = Math.min(CHUNK_RETRY, checked.limit - total);
        const input = {
          status,
          before,
          budget: CHUNK_SCAN,
          children: Array.from({ length: count }, () => crypto.randomUUID()),
          ...(checked.taskName === undefined ? {} : { taskName: checked.taskName }),
          ...(checked.sinceMs === undefined ? {} : { sinceMs: checked.sinceMs }),
        };
        const { keys, args } = encodeOpsRetryScan(this.#keys, input);
        const chunk = decodeOpsRetryScan(await this.#connection.script(opsRetryScript, keys, args));
        total += chunk.retried;
        if (chunk.next === undefined) break;
        before = chunk.next;
      }
    }
    return total;
  }

  /** Deletes a queued, scheduled or finished task: one script. */
  async delete(uuid: string): Promise<boolean> {
    checkUuid("delete", uuid);
    const { keys, args } = encodeOpsRemoveOne(this.#keys, uuid);
    const outcome = decodeOpsRemoveOne(await this.#connection.script(opsRemoveScript, keys, args));
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
        const { keys, args } = encodeOpsRemoveScan(this.#keys, input);
        const chunk = decodeOpsRemoveScan(
          await this.#connection.script(opsRemoveScript, keys, args),
        );
        total += chunk.deleted;
        if (chunk.next === undefined) break;
        before = chunk.next;
      }
    }
    return total;
  }

  /** Pauses the app or a task name: one script. */
  async pause(taskName?: string): Promise<void> {
    checkTaskNameArg("pause", taskName);
    const { keys, args } = encodeOpsPause(this.#keys, "pause", taskName);
    decodeOpsPause(await this.#connection.script(opsPauseScript, keys, args));
  }

  /** Resumes the app or a task name (its parked tasks go back to the queue): one script. */
  async resume(taskName?: string): Promise<void> {
    checkTaskNameArg("resume", taskName);
    const { keys, args } = encodeOpsPause(this.#keys, "resume", taskName);
    decodeOpsPause(await this.#connection.script(opsPauseScript, keys, args));
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
    return await this.#connection.subscribe(
      `${this.#keys.prefix}stream`,
      (message) => {
        const event = parseTaskEvent(message);
        if (event && (!names || names.has(event.taskName))) listener(event);
      },
      options.onGap,
    );
  }

  /** A task's log lines: one HMGET. */
  async logs(uuid: string): Promise<TaskLogLine[] | undefined> {
    checkUuid("read the logs of", uuid);
    const [status, logs, dropped] = await this.#connection.command([
      "HMGET",
      this.#keys.task(uuid),
      "status",
      "logs",
      "logs_dropped",
    ]) as Array<string | null>;
    if (status === null || status === undefined) return undefined;
    return decodeLogs(logs ?? undefined, dropped ?? undefined);
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

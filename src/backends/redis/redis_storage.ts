import type { ComponentContext } from "../../ports/broker.ts";
import {
  pairsToObject,
  type RedisComponentOptions,
  RedisGlobalConfig,
} from "./redis_global_config.ts";
import type { GlobalConfig } from "../../ports/global_config.ts";
import { RedisConnection } from "./redis_connection.ts";
import { partitionKeys, partitionOf, type RedisKeys, redisKeys } from "./redis_keys.ts";
import {
  decodeDeleteFinished,
  deleteFinishedScript,
  encodeDeleteFinished,
} from "./scripts/_delete_finished.ts";
import {
  decodeReadRecords,
  encodeReadRecords,
  readRecordsScript,
} from "./scripts/_read_records.ts";
import { decodeTaskRecord, type TaskFields } from "../../model/task_codec.ts";
import type { TaskRecord } from "../../model/task_record.ts";
import { checkGetAllLimit, sortOldestFirst } from "../../ports/_record_order.ts";
import type { GetAllOptions, Storage, WaitForStatusOptions } from "../../ports/storage.ts";
import { waitForRecord } from "../../ports/wait_for_record.ts";

/** Most records one `read_records` call reads. */
const READ_BATCH = 500;

/**
 * Most tasks enqueued here whose events are kept for a waiter that has not started yet (the
 * oldest is forgotten first: its waiter then reads at once, as any other).
 */
const EXPECTED_MAX = 10_000;
/**
 * How long a waiter that skipped its first read (see {@linkcode RedisStorage.expectRecord}) waits
 * for an event before it reads anyway: a guard, should a notice be lost.
 */
const DEFERRED_READ_MS = 2_000;
/** Statuses heard for an expected task: none yet. */
const NONE_HEARD: readonly (string | undefined)[] = Object.freeze([]);

/** A result waiter's read, waiting for the end of the turn. */
interface PendingRead {
  uuid: string;
  resolve: (record: TaskRecord | undefined) => void;
  reject: (error: unknown) => void;
}

/**
 * Redis {@linkcode Storage}: one hash per task (`{app}:task:{uuid}`) with QTasks' field names.
 * Waiting for a result listens on the app's events channel through one shared subscriber.
 *
 * @example
 * ```ts
 * import { RedisGlobalConfig, RedisStorage } from "@qtasks/qtasks/redis";
 *
 * const globalConfig = new RedisGlobalConfig({ name: "docs-storage", url: "redis://127.0.0.1:6379" });
 * const storage = new RedisStorage({ name: "docs-storage", globalConfig });
 * console.log(await storage.get("unknown")); // undefined
 * await storage.stop();
 * ```
 */
export class RedisStorage implements Storage {
  /** The app name. */
  readonly name: string;
  /** Settings and heartbeat. */
  readonly globalConfig: GlobalConfig | undefined;
  /** The shared connection. */
  readonly connection: RedisConnection;
  /** The app's keys. */
  readonly keys: RedisKeys;
  /** The key layout of each partition (one, `keys`, unless `partitions` says more). */
  readonly partitions: readonly RedisKeys[];
  #watchers = new Map<string, Set<(status?: string) => void>>();
  /**
   * Tasks enqueued by this process while it listened on the events channel, with the statuses
   * heard for them since (see expectRecord); in insertion order, at most EXPECTED_MAX.
   */
  #expected = new Map<string, (string | undefined)[] | typeof NONE_HEARD>();
  /** Result waiters' reads not sent yet: sent together at the end of this turn. */
  #reads: PendingRead[] = [];
  #subscribed: Promise<unknown> | undefined;
  #holds = true;

  /**
   * Creates a RedisStorage.
   *
   * @param options Name, URL or connection, and `globalConfig` (whose connection is shared when
   *   no URL or connection is given).
   */
  constructor(options: RedisComponentOptions & { globalConfig?: GlobalConfig } = {}) {
    this.name = options.name ?? options.globalConfig?.name ?? "QueueTasks";
    redisKeys(this.name); // checks the name first
    this.globalConfig = options.globalConfig;
    this.connection = options.connection ??
      (!options.url && options.globalConfig instanceof RedisGlobalConfig
        ? options.globalConfig.connection
        : new RedisConnection({ ...options.redis, url: options.url }));
    this.partitions = partitionKeys(this.name, this.connection.partitions);
    this.keys = this.partitions[0];
    this.connection.acquire();
  }

  /** Starts the GlobalConfig. */
  async start(context: ComponentContext): Promise<void> {
    if (!this.#holds) {
      this.connection.acquire();
      this.#holds = true;
    }
    await this.globalConfig?.start(context);
  }

  /** Releases the connection, then stops the GlobalConfig. */
  async stop(): Promise<void> {
    this.#subscribed = undefined;
    this.#watchers.clear();
    this.#expected.clear();
    if (this.#holds) {
      this.#holds = false;
      await this.connection.release();
    }
    await this.globalConfig?.stop();
  }

  /** Reads one record (HGETALL). */
  async get(uuid: string): Promise<TaskRecord | undefined> {
    const count = this.partitions.length;
    const first = partitionOf(uuid, count);
    const reply = await this.connection.command(["HGETALL", this.partitions[first].task(uuid)]);
    const record = decodeTaskRecord(uuid, pairsToObject(reply));
    if (record !== undefined || count === 1) return record;
    return await this.#getElsewhere(uuid, first);
  }

  /**
   * A record that is not in its uuid's partition: one created inside another partition (a
   * retry's attempt, a chain's step stays with its parent), read from every other one at once.
   */
  async #getElsewhere(uuid: string, except: number): Promise<TaskRecord | undefined> {
    const replies = await Promise.all(
      this.partitions.map((keys, p) =>
        p === except ? null : this.connection.command(["HGETALL", keys.task(uuid)])
      ),
    );
    for (const reply of replies) {
      if (reply === null) continue;
      const record = decodeTaskRecord(uuid, pairsToObject(reply));
      if (record !== undefined) return record;
    }
    return undefined;
  }

  /**
   * Reads every record, oldest first: a SCAN of the record keys (the first `limit` found,
   * default 1000) with their HGETALLs pipelined; a record deleted in between is skipped.
   */
  async getAll(options: GetAllOptions = {}): Promise<TaskRecord[]> {
    const limit = checkGetAllLimit(options.limit);
    const entries: Array<[string, TaskFields]> = [];
    for (const partition of this.partitions) {
      if (entries.length >= limit) break;
      const prefix = partition.taskPrefix;
      await this.#scan(prefix, async (keys) => {
        const page = keys.slice(0, limit - entries.length);
        const replies = await Promise.all(
          page.map((key) => this.connection.command(["HGETALL", key])),
        );
        for (let i = 0; i < page.length; i++) {
          entries.push([page[i].slice(prefix.length), pairsToObject(replies[i])]);
        }
        return entries.length < limit;
      });
    }
    const results: TaskRecord[] = [];
    for (const [uuid, fields] of sortOldestFirst(entries)) {
      const record = decodeTaskRecord(uuid, fields);
      if (record) results.push(record);
    }
    return results;
  }

  /**
   * Told by the app just before it stores a new task (not a caller-chosen uuid): when this
   * storage is listening on the events channel already, every event of that task will reach it,
   * so it keeps the statuses heard for the task until a waiter starts, and that waiter skips its
   * first read (which would mostly find the task not run yet) unless an awaited status was heard
   * meanwhile. Not listening: nothing is kept, the waiter reads first, as always.
   */
  expectRecord(uuid: string): void {
    const events = this.partitions[partitionOf(uuid, this.partitions.length)].events;
    if (this.#subscribed === undefined || !this.connection.listening(events)) return;
    if (this.#expected.size >= EXPECTED_MAX) {
      this.#expected.delete(this.#expected.keys().next().value!);
    }
    this.#expected.set(uuid, NONE_HEARD);
  }

  /** Waits for a status, woken by the events channel. */
  waitForStatus(uuid: string, options: WaitForStatusOptions): Promise<TaskRecord | undefined> {
    // A message on the events channel only says when to read: its status and fields are never
    // taken as the record (anyone allowed to PUBLISH could forge them), so an awaited status is
    // read back from the record itself (one read per awaited status heard, shared by the waiters
    // that read in the same turn: see #readSoon).
    // A task this process enqueued while listening (expectRecord) needs no first read, unless an
    // awaited status (or an unknown change) was heard before this waiter started. The check and
    // waitForRecord's watch run in the same synchronous step: no event falls between them.
    const heard = this.#expected.get(uuid);
    let firstReadAfterMs: number | undefined;
    if (heard !== undefined) {
      this.#expected.delete(uuid);
      const awaited = options.statuses as readonly (string | undefined)[];
      if (!heard.some((status) => status === undefined || awaited.includes(status))) {
        firstReadAfterMs = DEFERRED_READ_MS;
      }
    }
    return waitForRecord(options, {
      read: () => this.#readSoon(uuid),
      watch: (onChange) => this.#watch(uuid, (status) => onChange(status)),
      firstReadAfterMs,
    });
  }

  /**
   * Reads a record together with the other waiters' reads of this turn: the waiters one batch of
   * events (or one batch of enqueues) woke all read in one command. A lone read is one HGETALL;
   * two or more are one `read_records` script call per {@linkcode READ_BATCH} records.
   */
  #readSoon(uuid: string): Promise<TaskRecord | undefined> {
    return new Promise((resolve, reject) => {
      this.#reads.push({ uuid, resolve, reject });
      // Woken waiters reach their read a few promise steps after their wake-up, each the same
      // number: the flush waits that long, so that one turn's readers share a call.
      if (this.#reads.length === 1) {
        queueMicrotask(() =>
          queueMicrotask(() => queueMicrotask(() => queueMicrotask(() => this.#flushReads())))
        );
      }
    });
  }

  #flushReads(): void {
    const batch = this.#reads;
    this.#reads = [];
    for (let start = 0; start < batch.length; start += READ_BATCH) {
      const part = batch.slice(start, start + READ_BATCH);
      void this.#readBatch(part).catch((error) => {
        for (const read of part) read.reject(error);
      });
    }
  }

  async #readBatch(part: PendingRead[]): Promise<void> {
    const count = this.partitions.length;
    if (count > 1) {
      // One batch per partition (a script touches one slot); a record not in its uuid's
      // partition is then looked for in the others.
      const groups = new Map<number, PendingRead[]>();
      for (const read of part) {
        const p = partitionOf(read.uuid, count);
        const group = groups.get(p);
        if (group) group.push(read);
        else groups.set(p, [read]);
      }
      await Promise.all(
        [...groups].map(([p, group]) => this.#readGroup(group, this.partitions[p], p)),
      );
      return;
    }
    await this.#readGroup(part, this.keys, 0);
  }

  async #readGroup(part: PendingRead[], keys: RedisKeys, partition: number): Promise<void> {
    const found = (read: PendingRead, record: TaskRecord | undefined) => {
      if (record !== undefined || this.partitions.length === 1) read.resolve(record);
      else this.#getElsewhere(read.uuid, partition).then(read.resolve, read.reject);
    };
    if (part.length === 1) {
      const [read] = part;
      const reply = await this.connection.command(["HGETALL", keys.task(read.uuid)]);
      found(read, decodeTaskRecord(read.uuid, pairsToObject(reply)));
      return;
    }
    const call = encodeReadRecords(part.map((read) => keys.task(read.uuid)));
    const records = decodeReadRecords(
      await this.connection.script(readRecordsScript, call.keys, call.args),
      part.length,
    );
    for (let i = 0; i < part.length; i++) {
      let record: TaskRecord | undefined;
      try {
        record = decodeTaskRecord(part[i].uuid, records[i]);
      } catch (error) {
        part[i].reject(error);
        continue;
      }
      found(part[i], record);
    }
  }

  /**
   * Calls `onChange` whenever the record of `uuid` may have changed (a message on the events
   * channel: its status, or `"progress"`; `undefined` after a reconnect, when anything may have).
   * Resolves once subscribed, with a function that stops it.
   */
  watchRecord(uuid: string, onChange: (status?: string) => void): Promise<() => void> {
    return this.#watch(uuid, (status) => onChange(status));
  }

  async #watch(
    uuid: string,
    listener: (status?: string) => void,
  ): Promise<() => void> {
    let set = this.#watchers.get(uuid);
    if (!set) this.#watchers.set(uuid, set = new Set());
    set.add(listener);
    const remove = () => {
      set.delete(listener);
      if (set.size === 0) this.#watchers.delete(uuid);
    };
    try {
      await this.#subscribe();
    } catch (error) {
      remove();
      throw error;
    }
    return remove;
  }

  /** Deletes finished records (SCAN of the task records, checked and deleted in batches). */
  async deleteFinished(): Promise<number> {
    let deleted = 0;
    for (const partition of this.partitions) {
      await this.#scan(partition.taskPrefix, async (keys) => {
        const call = encodeDeleteFinished(keys);
        deleted += decodeDeleteFinished(
          await this.connection.script(deleteFinishedScript, call.keys, call.args),
        );
      });
    }
    return deleted;
  }

  /** Deletes every key of the app (SCAN + UNLINK in batches). */
  async flushAll(): Promise<void> {
    for (const partition of this.partitions) {
      await this.#scan(partition.prefix, async (keys) => {
        await this.connection.command(["UNLINK", ...keys]);
      });
    }
  }

  /**
   * Calls `batch` with the keys that start with `prefix`, a SCAN page at a time, until the scan
   * ends or `batch` resolves with `false`.
   */
  async #scan(
    prefix: string,
    batch: (keys: string[]) => Promise<boolean | void>,
  ): Promise<void> {
    const pattern = prefix.replace(/[*?[\]\\]/g, "\\$&") + "*";
    let cursor = "0";
    do {
      const reply = await this.connection.command([
        "SCAN",
        cursor,
        "MATCH",
        pattern,
        "COUNT",
        "1000",
      ]) as [string, string[]];
      cursor = reply[0];
      if (reply[1].length > 0 && (await batch(reply[1])) === false) return;
    } while (cursor !== "0");
  }

  #subscribe(): Promise<unknown> {
    this.#subscribed ??= Promise.all(this.partitions.map((keys) => this.#subscribeTo(keys.events)))
      .catch((error) => {
        this.#subscribed = undefined;
        throw error;
      });
    return this.#subscribed;
  }

  #subscribeTo(channel: string): Promise<unknown> {
    return this.connection.subscribe(
      channel,
      (message) => {
        // "<uuid> <status>", or "<uuid> <status> <JSON of the changed fields>": only the status
        // is used, as a hint of when to read (the fields are not trusted, see waitForStatus).
        const first = message.indexOf(" ");
        const uuid = first < 0 ? message : message.slice(0, first);
        const set = this.#watchers.get(uuid);
        const heard = set ? undefined : this.#expected.get(uuid);
        if (!set && heard === undefined) return;
        const second = first < 0 ? -1 : message.indexOf(" ", first + 1);
        const status = first < 0
          ? undefined
          : message.slice(first + 1, second < 0 ? undefined : second);
        if (heard !== undefined) {
          // Enqueued here, no waiter yet: kept for the waiter (see expectRecord).
          if (heard === NONE_HEARD) this.#expected.set(uuid, [status]);
          else (heard as (string | undefined)[]).push(status);
          return;
        }
        for (const notify of [...set!]) notify(status);
      },
      // After a reconnection, messages may have been missed: every waiter reads again, and the
      // waiters of expected tasks not started yet read first.
      () => {
        this.#expected.clear();
        for (const set of this.#watchers.values()) for (const notify of [...set]) notify();
      },
    );
  }
}

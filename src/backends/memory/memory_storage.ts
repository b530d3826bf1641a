import type { ComponentContext } from "../../ports/broker.ts";
import type { GlobalConfig } from "../../ports/global_config.ts";
import { PriorityHeap } from "./_priority_heap.ts";
import { decodeTaskRecord, type TaskFields } from "../../model/task_codec.ts";
import type { TaskRecord } from "../../model/task_record.ts";
import { checkGetAllLimit, sortOldestFirst } from "../../ports/_record_order.ts";
import type { GetAllOptions, Storage, WaitForStatusOptions } from "../../ports/storage.ts";
import { waitForRecord } from "../../ports/wait_for_record.ts";

/**
 * In-memory {@linkcode Storage}. Records are kept as the same string fields the Redis backend
 * stores, so arguments and results go through JSON exactly as they would in production.
 *
 * @example
 * ```ts
 * import { MemoryGlobalConfig, MemoryStorage } from "@qtasks/qtasks/memory";
 *
 * const storage = new MemoryStorage({ name: "demo", globalConfig: new MemoryGlobalConfig({ name: "demo" }) });
 * console.log(storage.globalConfig?.name); // "demo"
 * ```
 */
export class MemoryStorage implements Storage {
  /** The app name. */
  readonly name: string;
  /** Settings and heartbeat, if any. */
  readonly globalConfig: GlobalConfig | undefined;
  /** The clock, in milliseconds since the epoch. */
  readonly now: () => number;
  #records = new Map<string, TaskFields>();
  #expiries = new PriorityHeap<[number, string]>((a, b) => a[0] - b[0]);
  #watchers = new Map<string, Set<(status?: string) => void>>();
  #allWatchers = new Set<(uuid: string, changed: TaskFields, fields?: TaskFields) => void>();

  /**
   * Creates a MemoryStorage.
   *
   * @param options `name` (default `QueueTasks`), `globalConfig`, and `now`, a clock for tests.
   */
  constructor(options: { name?: string; globalConfig?: GlobalConfig; now?: () => number } = {}) {
    this.name = options.name ?? "QueueTasks";
    this.globalConfig = options.globalConfig;
    this.now = options.now ?? Date.now;
  }

  /** Starts the GlobalConfig. */
  async start(context: ComponentContext): Promise<void> {
    await this.globalConfig?.start(context);
  }

  /** Stops the GlobalConfig. */
  async stop(): Promise<void> {
    await this.globalConfig?.stop();
  }

  /** Reads one record. */
  get(uuid: string): Promise<TaskRecord | undefined> {
    return this.#read(uuid);
  }

  #read(uuid: string): Promise<TaskRecord | undefined> {
    this.#expire();
    const fields = this.#records.get(uuid);
    return Promise.resolve(fields ? decodeTaskRecord(uuid, fields) : undefined);
  }

  /** Reads every record, oldest first (at most `limit`, default 1000: the oldest ones). */
  getAll(options: GetAllOptions = {}): Promise<TaskRecord[]> {
    let limit: number;
    try {
      limit = checkGetAllLimit(options.limit);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#expire();
    const entries = sortOldestFirst([...this.#records]).slice(0, limit);
    const results: TaskRecord[] = [];
    for (const [uuid, fields] of entries) {
      const record = decodeTaskRecord(uuid, fields);
      if (record) results.push(record);
    }
    return Promise.resolve(results);
  }

  /** Waits for a status, woken by every write to the record. */
  waitForStatus(uuid: string, options: WaitForStatusOptions): Promise<TaskRecord | undefined> {
    return waitForRecord(options, {
      read: () => this.#read(uuid),
      watch: (onChange) => this.#watch(uuid, onChange),
    });
  }

  /**
   * Calls `onChange` whenever the record of `uuid` changes (with its new status, when the change
   * set one). Resolves with a function that stops it.
   */
  watchRecord(uuid: string, onChange: (status?: string) => void): Promise<() => void> {
    return Promise.resolve(this.#watch(uuid, onChange));
  }

  #watch(uuid: string, onChange: (status?: string) => void): () => void {
    let set = this.#watchers.get(uuid);
    if (!set) this.#watchers.set(uuid, set = new Set());
    set.add(onChange);
    return () => {
      set.delete(onChange);
      if (set.size === 0) this.#watchers.delete(uuid);
    };
  }

  /** Deletes the records of finished tasks (those given an expiry). */
  deleteFinished(): Promise<number> {
    let deleted = 0;
    for (let entry = this.#expiries.pop(); entry; entry = this.#expiries.pop()) {
      if (this.#records.delete(entry[1])) deleted++;
    }
    return Promise.resolve(deleted);
  }

  /** Deletes every record. */
  flushAll(): Promise<void> {
    this.#records.clear();
    this.#expiries.clear();
    return Promise.resolve();
  }

  /** Backend use: the raw fields of a record. */
  fields(uuid: string): TaskFields | undefined {
    return this.#records.get(uuid);
  }

  /** Backend use: creates or updates a record and wakes its watchers. */
  write(uuid: string, fields: TaskFields): void {
    const current = this.#records.get(uuid);
    if (current) Object.assign(current, fields);
    else this.#records.set(uuid, { ...fields });
    const watchers = this.#watchers.get(uuid);
    if (watchers) { for (const notify of [...watchers]) notify(fields.status); }
    if (this.#allWatchers.size > 0) {
      const record = this.#records.get(uuid);
      for (const notify of [...this.#allWatchers]) notify(uuid, fields, record);
    }
  }

  /** Backend use: deletes a record (an operator's delete, clean or drain). */
  remove(uuid: string): void {
    if (!this.#records.delete(uuid)) return;
    for (const notify of [...this.#allWatchers]) notify(uuid, {}, undefined);
    // A deleted record's watchers see it gone (their read finds nothing).
    const watchers = this.#watchers.get(uuid);
    if (watchers) { for (const notify of [...watchers]) notify(undefined); }
  }

  /** Backend use: every live record, expired ones dropped first. */
  entries(): Array<[string, TaskFields]> {
    this.#expire();
    return [...this.#records];
  }

  /**
   * Backend use: calls `listener` after every write (the changed fields and the whole record)
   * and delete (no record) of any record; returns a function that stops it. Nothing is done per
   * write while nobody listens.
   */
  watchAll(
    listener: (uuid: string, changed: TaskFields, fields?: TaskFields) => void,
  ): () => void {
    this.#allWatchers.add(listener);
    return () => void this.#allWatchers.delete(listener);
  }

  /** Backend use: the record expires `ttlMs` from now (finished tasks). */
  expire(uuid: string, ttlMs: number): void {
    this.#expiries.push([this.now() + ttlMs, uuid]);
    this.#expire();
  }

  #expire(): void {
    const now = this.now();
    for (let next = this.#expiries.peek(); next && next[0] <= now; next = this.#expiries.peek()) {
      this.#expiries.pop();
      this.#records.delete(next[1]);
    }
  }
}

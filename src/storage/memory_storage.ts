import type { ComponentContext } from "../broker/broker.ts";
import type { GlobalConfig } from "../global_config/global_config.ts";
import { PriorityHeap } from "../memory/priority_heap.ts";
import { decodeTaskRecord, type TaskFields } from "../task/task_codec.ts";
import type { TaskRecord } from "../task/task_record.ts";
import type { Storage, WaitForStatusOptions } from "./storage.ts";
import { waitForRecord } from "./wait_for_record.ts";

/**
 * In-memory {@linkcode Storage}. Records are kept as the same string fields the Redis backend
 * stores, so arguments and results go through JSON exactly as they would in production.
 *
 * @example
 * ```ts
 * import { MemoryGlobalConfig, MemoryStorage } from "@qtasks/qtasks";
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

  /**
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
    this.#expire();
    const fields = this.#records.get(uuid);
    return Promise.resolve(fields ? decodeTaskRecord(uuid, fields) : undefined);
  }

  /** Waits for a status, woken by every write to the record. */
  waitForStatus(uuid: string, options: WaitForStatusOptions): Promise<TaskRecord | undefined> {
    return waitForRecord(options, {
      read: () => this.get(uuid),
      watch: (onChange) => {
        let set = this.#watchers.get(uuid);
        if (!set) this.#watchers.set(uuid, set = new Set());
        set.add(onChange);
        return () => {
          set.delete(onChange);
          if (set.size === 0) this.#watchers.delete(uuid);
        };
      },
    });
  }

  /** Deletes the records of finished tasks (those given an expiry). */
  deleteFinished(): Promise<number> {
    let count = 0;
    for (let entry = this.#expiries.pop(); entry; entry = this.#expiries.pop()) {
      if (this.#records.delete(entry[1])) count++;
    }
    return Promise.resolve(count);
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

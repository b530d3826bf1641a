/**
 * The broker the backend preset returns for a `postgres://` URL: it loads the PostgreSQL backend
 * (and its driver) with a dynamic import on first use, so that importing `@qtasks/qtasks`
 * never loads them. Every call waits for the real broker, then forwards to it.
 *
 * @module
 */
import { redactUrl } from "../model/_redact_url.ts";
import type { QueueStats } from "../model/queue_stats.ts";
import type { TaskRecord } from "../model/task_record.ts";
import type { WorkerReport, WorkerStats } from "../model/worker_report.ts";
import type {
  Broker,
  CancelOutcome,
  ComponentContext,
  ExchangeRequest,
  ExchangeResult,
  Lease,
  LeaseRenewal,
  NewFlow,
  NewTask,
} from "../ports/broker.ts";
import type { GlobalConfig } from "../ports/global_config.ts";
import type {
  CleanOptions,
  DrainOptions,
  PausedState,
  QueueOperations,
  RetryAllFilter,
  SubscribeOptions,
  TaskCounts,
  TaskEvent,
  TaskLogLine,
  TaskPage,
  TaskQuery,
} from "../ports/queue_operations.ts";
import type { GetAllOptions, Storage, WaitForStatusOptions } from "../ports/storage.ts";

/** Whether a URL names a PostgreSQL server. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** Loads the backend once and makes the broker. */
type Load = () => Promise<Broker>;

function once(load: Load): Load {
  let loaded: Promise<Broker> | undefined;
  return () => {
    loaded ??= load().catch((error) => {
      loaded = undefined;
      throw error;
    });
    return loaded;
  };
}

/** The GlobalConfig of the loaded broker. */
class LazyGlobalConfig implements GlobalConfig {
  readonly name: string;
  readonly #load: Load;
  constructor(name: string, load: Load) {
    this.name = name;
    this.#load = load;
  }
  async #target(): Promise<GlobalConfig> {
    const config = (await this.#load()).storage.globalConfig;
    if (!config) throw new Error("the PostgreSQL backend has no GlobalConfig");
    return config;
  }
  async start(context: ComponentContext): Promise<void> {
    await (await this.#target()).start(context);
  }
  async stop(): Promise<void> {
    await (await this.#target()).stop();
  }
  async set(name: string, key: string, value: string): Promise<void> {
    await (await this.#target()).set(name, key, value);
  }
  async get(name: string, key: string): Promise<string | undefined> {
    return await (await this.#target()).get(name, key);
  }
  async getAll(name: string): Promise<Record<string, string>> {
    return await (await this.#target()).getAll(name);
  }
  async getMatch(name: string, pattern: string): Promise<Record<string, string>> {
    return await (await this.#target()).getMatch(name, pattern);
  }
  async isRunning(): Promise<boolean> {
    return await (await this.#target()).isRunning();
  }
  async claimOnce(
    key: string,
    ttlMs: number,
    record?: { name: string; key: string; value: string },
  ): Promise<boolean> {
    return await (await this.#target()).claimOnce(key, ttlMs, record);
  }
  async reportWorker(report: WorkerReport): Promise<void> {
    await (await this.#target()).reportWorker(report);
  }
  async readWorkerStats(): Promise<WorkerStats> {
    return await (await this.#target()).readWorkerStats();
  }
}

/** The Storage of the loaded broker. */
class LazyStorage implements Storage {
  readonly name: string;
  readonly globalConfig: GlobalConfig;
  readonly #load: Load;
  constructor(name: string, load: Load) {
    this.name = name;
    this.#load = load;
    this.globalConfig = new LazyGlobalConfig(name, load);
  }
  async #target(): Promise<Storage> {
    return (await this.#load()).storage;
  }
  async start(context: ComponentContext): Promise<void> {
    await (await this.#target()).start(context);
  }
  async stop(): Promise<void> {
    await (await this.#target()).stop();
  }
  async get(uuid: string): Promise<TaskRecord | undefined> {
    return await (await this.#target()).get(uuid);
  }
  async getAll(options?: GetAllOptions): Promise<TaskRecord[]> {
    return await (await this.#target()).getAll(options);
  }
  async waitForStatus(
    uuid: string,
    options: WaitForStatusOptions,
  ): Promise<TaskRecord | undefined> {
    return await (await this.#target()).waitForStatus(uuid, options);
  }
  async watchRecord(uuid: string, onChange: (status?: string) => void): Promise<() => void> {
    const target = await this.#target();
    if (!target.watchRecord) throw new Error("the PostgreSQL storage cannot watch records");
    return await target.watchRecord(uuid, onChange);
  }
  async deleteFinished(): Promise<number> {
    return await (await this.#target()).deleteFinished();
  }
  async flushAll(): Promise<void> {
    await (await this.#target()).flushAll();
  }
}

/** The operations of the loaded broker. */
class LazyOperations implements QueueOperations {
  readonly #load: Load;
  constructor(load: Load) {
    this.#load = load;
  }
  async #target(): Promise<QueueOperations> {
    const operations = (await this.#load()).operations;
    if (!operations) throw new Error("the PostgreSQL broker has no operations");
    return operations;
  }
  async list(query?: TaskQuery): Promise<TaskPage> {
    return await (await this.#target()).list(query);
  }
  async find(prefix: string, limit?: number): Promise<TaskRecord[]> {
    return await (await this.#target()).find(prefix, limit);
  }
  async counts(): Promise<TaskCounts> {
    return await (await this.#target()).counts();
  }
  async retry(uuid: string, childUuid?: string): Promise<string | undefined> {
    return await (await this.#target()).retry(uuid, childUuid);
  }
  async retryAll(filter?: RetryAllFilter): Promise<number> {
    return await (await this.#target()).retryAll(filter);
  }
  async delete(uuid: string): Promise<boolean> {
    return await (await this.#target()).delete(uuid);
  }
  async clean(options: CleanOptions): Promise<number> {
    return await (await this.#target()).clean(options);
  }
  async drain(options?: DrainOptions): Promise<number> {
    return await (await this.#target()).drain(options);
  }
  async pause(taskName?: string): Promise<void> {
    await (await this.#target()).pause(taskName);
  }
  async resume(taskName?: string): Promise<void> {
    await (await this.#target()).resume(taskName);
  }
  async paused(): Promise<PausedState> {
    return await (await this.#target()).paused();
  }
  async subscribe(
    listener: (event: TaskEvent) => void,
    options?: SubscribeOptions,
  ): Promise<() => void> {
    return await (await this.#target()).subscribe(listener, options);
  }
  async logs(uuid: string): Promise<TaskLogLine[] | undefined> {
    return await (await this.#target()).logs(uuid);
  }
}

/**
 * A {@linkcode Broker} on PostgreSQL whose backend module is loaded on first use (see the
 * module's description).
 */
export class LazyPostgresBroker implements Broker {
  readonly name: string;
  readonly storage: Storage;
  readonly operations: QueueOperations;
  /** What the app's backend label reads: the URL with its password hidden. */
  readonly connection: { readonly redactedUrl: string };
  /** It stores a task given with `tx` in the caller's transaction. */
  readonly transactional = true;
  readonly #load: Load;

  /**
   * Creates the broker (nothing is loaded yet).
   *
   * @param name The app name.
   * @param url The `postgres://` URL.
   * @param timeoutMs The app's `backendTimeoutMs` (connection attempts, enqueues without a server).
   */
  constructor(name: string, url: string, timeoutMs?: number) {
    this.name = name;
    this.connection = { redactedUrl: redactUrl(url) };
    this.#load = once(async () => {
      const { PostgresBroker } = await import("../backends/postgres/postgres_broker.ts");
      return new PostgresBroker({
        name,
        url,
        ...(timeoutMs === undefined ? {} : { postgres: { timeoutMs } }),
      });
    });
    this.storage = new LazyStorage(name, this.#load);
    this.operations = new LazyOperations(this.#load);
  }

  async start(context: ComponentContext): Promise<void> {
    await (await this.#load()).start(context);
  }
  async stop(): Promise<void> {
    await (await this.#load()).stop();
  }
  async add(task: NewTask): Promise<void> {
    await (await this.#load()).add(task);
  }
  async addBulk(tasks: NewTask[]): Promise<void> {
    await (await this.#load()).addBulk(tasks);
  }
  async addFlow(flow: NewFlow): Promise<void> {
    await (await this.#load()).addFlow(flow);
  }
  async exchange(request: ExchangeRequest): Promise<ExchangeResult> {
    return await (await this.#load()).exchange(request);
  }
  async extendLeases(workerId: string, leases: Lease[], leaseMs: number): Promise<LeaseRenewal> {
    return await (await this.#load()).extendLeases(workerId, leases, leaseMs);
  }
  async cancel(uuid: string, reason: string, resultTtlMs: number): Promise<CancelOutcome> {
    return await (await this.#load()).cancel(uuid, reason, resultTtlMs);
  }
  async watchCancellations(
    listener: (uuid: string, reason: string) => void,
  ): Promise<() => void> {
    return await (await this.#load()).watchCancellations(listener);
  }
  async reportProgress(
    workerId: string,
    uuid: string,
    deliveries: number,
    progress: string,
  ): Promise<boolean> {
    return await (await this.#load()).reportProgress(workerId, uuid, deliveries, progress);
  }
  async waitForTasks(
    timeoutMs: number,
    signal: AbortSignal,
    claim?: ExchangeRequest,
  ): Promise<ExchangeResult | undefined> {
    return await (await this.#load()).waitForTasks(timeoutMs, signal, claim);
  }
  async get(uuid: string): Promise<TaskRecord | undefined> {
    return await (await this.#load()).get(uuid);
  }
  async flushAll(): Promise<void> {
    await (await this.#load()).flushAll();
  }
  async queueStats(): Promise<QueueStats> {
    const target = await this.#load();
    if (!target.queueStats) throw new Error("the PostgreSQL broker has no queue stats");
    return await target.queueStats();
  }
  async appendLog(
    workerId: string,
    uuid: string,
    deliveries: number,
    line: string,
    caps: { maxLines: number; maxBytes: number },
  ): Promise<boolean> {
    const target = await this.#load();
    if (!target.appendLog) return false;
    return await target.appendLog(workerId, uuid, deliveries, line, caps);
  }
}

import type { ComponentContext } from "../../ports/broker.ts";
import {
  checkMinutes,
  STATS_BUCKET_MS,
  STATS_HISTORY_MS,
  STATS_MINUTE_BUCKETS,
  type ThroughputMinute,
  type WorkerInfo,
  type WorkerReport,
  type WorkerStats,
} from "../../model/worker_report.ts";
import type { GlobalConfig } from "../../ports/global_config.ts";
import { checkClaim } from "../../ports/_check_claim.ts";
import { globToRegExp } from "../../ports/_glob.ts";

/**
 * In-memory {@linkcode GlobalConfig}: settings in a map, the heartbeat as a flag. For tests,
 * demos and one-process apps.
 *
 * @example
 * ```ts
 * import { MemoryGlobalConfig } from "@qtasks/qtasks/memory";
 *
 * const config = new MemoryGlobalConfig({ name: "demo" });
 * await config.set("feature", "beta", "on");
 * console.log(await config.getAll("feature")); // { beta: "on" }
 * ```
 */
export class MemoryGlobalConfig implements GlobalConfig {
  /** The app name. */
  readonly name: string;
  #groups = new Map<string, Map<string, string>>();
  #running = false;
  #now: () => number;
  /** Claimed keys and when their claims expire. */
  #claims = new Map<string, number>();
  /** Live workers and when their records expire. */
  #workers = new Map<string, { info: WorkerInfo; expiresAt: number }>();
  #totals = { processed: 0, failed: 0 };
  /** Throughput buckets by start time (ms). */
  #buckets = new Map<number, { processed: number; failed: number }>();

  /**
   * Creates a MemoryGlobalConfig.
   *
   * @param options `name`: the app name (default `QueueTasks`); `now`: a clock for tests
   *   (default `Date.now`), used by claims, worker records and throughput buckets.
   */
  constructor(options: { name?: string; now?: () => number } = {}) {
    this.name = options.name ?? "QueueTasks";
    this.#now = options.now ?? Date.now;
  }

  /** Marks the app as running. */
  start(_context: ComponentContext): Promise<void> {
    this.#running = true;
    return Promise.resolve();
  }

  /** Marks the app as stopped. */
  stop(): Promise<void> {
    this.#running = false;
    return Promise.resolve();
  }

  /** Stores a value. */
  set(name: string, key: string, value: string): Promise<void> {
    let group = this.#groups.get(name);
    if (!group) this.#groups.set(name, group = new Map());
    group.set(key, String(value));
    return Promise.resolve();
  }

  /** Reads a value. */
  get(name: string, key: string): Promise<string | undefined> {
    return Promise.resolve(this.#groups.get(name)?.get(key));
  }

  /** Reads a group. */
  getAll(name: string): Promise<Record<string, string>> {
    return Promise.resolve(Object.fromEntries(this.#groups.get(name) ?? []));
  }

  /** Reads the keys of a group that match a glob (see {@linkcode GlobalConfig.getMatch}). */
  getMatch(name: string, pattern: string): Promise<Record<string, string>> {
    const matcher = globToRegExp(pattern);
    const result: Record<string, string> = {};
    for (const [key, value] of this.#groups.get(name) ?? []) {
      if (matcher.test(key)) result[key] = value;
    }
    return Promise.resolve(result);
  }

  /** Whether `start` was called and `stop` was not. */
  isRunning(): Promise<boolean> {
    return Promise.resolve(this.#running);
  }

  /** Claims `key` for `ttlMs` (see {@linkcode GlobalConfig.claimOnce}). */
  claimOnce(
    key: string,
    ttlMs: number,
    record?: { name: string; key: string; value: string },
  ): Promise<boolean> {
    try {
      return Promise.resolve(this.#claim(key, ttlMs, record));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #claim(
    key: string,
    ttlMs: number,
    record?: { name: string; key: string; value: string },
  ): boolean {
    checkClaim(key, ttlMs);
    const now = this.#now();
    if (this.#claims.size >= 1000) {
      for (const [claimed, expiresAt] of this.#claims) {
        if (expiresAt <= now) this.#claims.delete(claimed);
      }
    }
    const expiresAt = this.#claims.get(key);
    if (expiresAt !== undefined && expiresAt > now) return false;
    this.#claims.set(key, now + ttlMs);
    if (record) {
      let group = this.#groups.get(record.name);
      if (!group) this.#groups.set(record.name, group = new Map());
      group.set(record.key, String(record.value));
    }
    return true;
  }

  /** Records a worker's report (see {@linkcode GlobalConfig.reportWorker}). */
  reportWorker(report: WorkerReport): Promise<void> {
    const now = this.#now();
    const { processed, failed } = report;
    if (processed > 0 || failed > 0) {
      this.#totals.processed += processed;
      this.#totals.failed += failed;
      const start = Math.floor(now / STATS_BUCKET_MS) * STATS_BUCKET_MS;
      const bucket = this.#buckets.get(start) ?? { processed: 0, failed: 0 };
      bucket.processed += processed;
      bucket.failed += failed;
      this.#buckets.set(start, bucket);
      for (const old of this.#buckets.keys()) {
        if (old <= start - STATS_HISTORY_MS) this.#buckets.delete(old);
      }
    }
    const previous = this.#workers.get(report.workerId)?.info;
    if (report.stopped) {
      this.#workers.delete(report.workerId);
      return Promise.resolve();
    }
    this.#workers.set(report.workerId, {
      expiresAt: now + report.ttlMs,
      info: {
        workerId: report.workerId,
        host: report.host,
        pid: report.pid,
        runtime: report.runtime,
        concurrency: report.concurrency,
        startedAt: report.startedAt,
        seenAt: now,
        active: report.active,
        processed: (previous?.processed ?? 0) + processed,
        failed: (previous?.failed ?? 0) + failed,
      },
    });
    return Promise.resolve();
  }

  /** Reads the live workers and the counters (see {@linkcode GlobalConfig.readWorkerStats}). */
  readWorkerStats(): Promise<WorkerStats> {
    const now = this.#now();
    const workers: WorkerInfo[] = [];
    for (const [id, { info, expiresAt }] of this.#workers) {
      if (expiresAt <= now) this.#workers.delete(id);
      else workers.push({ ...info });
    }
    workers.sort((a, b) => a.startedAt - b.startedAt);
    const current = Math.floor(now / STATS_BUCKET_MS) * STATS_BUCKET_MS;
    const lastMinute = { processed: 0, failed: 0 };
    for (let i = 0; i < STATS_MINUTE_BUCKETS; i++) {
      const bucket = this.#buckets.get(current - i * STATS_BUCKET_MS);
      lastMinute.processed += bucket?.processed ?? 0;
      lastMinute.failed += bucket?.failed ?? 0;
    }
    return Promise.resolve({ now, workers, ...this.#totals, lastMinute });
  }

  /** Tasks finished per minute (see {@linkcode GlobalConfig.readThroughput}). */
  readThroughput(minutes: number): Promise<ThroughputMinute[]> {
    const count = checkMinutes(minutes);
    const current = Math.floor(this.#now() / 60_000) * 60_000;
    const points: ThroughputMinute[] = [];
    for (let m = count - 1; m >= 0; m--) {
      const at = current - m * 60_000;
      const point = { at, processed: 0, failed: 0 };
      for (let b = 0; b < 60_000; b += STATS_BUCKET_MS) {
        const bucket = this.#buckets.get(at + b);
        point.processed += bucket?.processed ?? 0;
        point.failed += bucket?.failed ?? 0;
      }
      points.push(point);
    }
    return Promise.resolve(points);
  }
}

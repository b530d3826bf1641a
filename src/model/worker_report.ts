/**
 * What a worker reports to its app's GlobalConfig, every `statsIntervalMs` and when it stops:
 * who it is (its heartbeat record) and what it did since its previous report (counter deltas,
 * added to its own totals, the app's totals and the current 10-second throughput bucket).
 *
 * @example
 * ```ts
 * import type { WorkerReport } from "@qtasks/qtasks/ports";
 *
 * const report: WorkerReport = {
 *   workerId: "box:4242:1a2b3c4d",
 *   host: "box",
 *   pid: 4242,
 *   runtime: "deno 2.9.6",
 *   concurrency: 10,
 *   startedAt: Date.now(),
 *   active: 3,
 *   processed: 120,
 *   failed: 2,
 *   ttlMs: 20_000,
 * };
 * ```
 */
export interface WorkerReport {
  /** The worker's id. */
  workerId: string;
  /** Host name of its machine. */
  host: string;
  /** Its process id. */
  pid: number;
  /** Runtime and version, such as `deno 2.9.6`. */
  runtime: string;
  /** Tasks it runs at once. */
  concurrency: number;
  /** When it started (ms since the epoch). */
  startedAt: number;
  /** Tasks it runs now. */
  active: number;
  /** Tasks it finished since its previous report (any outcome). */
  processed: number;
  /** Of those, the ones that ended as `error`. */
  failed: number;
  /** Its record counts as alive for this long after the report, in ms. */
  ttlMs: number;
  /** The worker stopped: its counts are added, then its record is removed. */
  stopped?: boolean;
}

/**
 * A live worker, as {@linkcode WorkerStats} lists it (from its last report).
 *
 * @example
 * ```ts
 * import type { WorkerInfo } from "@qtasks/qtasks/ports";
 *
 * function uptimeMs(worker: WorkerInfo, now: number): number {
 *   return now - worker.startedAt;
 * }
 * ```
 */
export interface WorkerInfo {
  /** The worker's id. */
  workerId: string;
  /** Host name of its machine. */
  host: string;
  /** Its process id. */
  pid: number;
  /** Runtime and version. */
  runtime: string;
  /** Tasks it runs at once. */
  concurrency: number;
  /** When it started (ms since the epoch). */
  startedAt: number;
  /** When it last reported (ms since the epoch, on the backend's clock). */
  seenAt: number;
  /** Tasks it ran at its last report. */
  active: number;
  /** Tasks it finished since it started (as of its last report). */
  processed: number;
  /** Of those, the ones that ended as `error`. */
  failed: number;
}

/**
 * The worker side of an app's stats, read from its GlobalConfig.
 *
 * @example
 * ```ts
 * import { MemoryGlobalConfig } from "@qtasks/qtasks/memory";
 *
 * const config = new MemoryGlobalConfig({ name: "demo" });
 * const stats = await config.readWorkerStats();
 * console.log(stats.workers.length, stats.processed); // 0 0
 * ```
 */
export interface WorkerStats {
  /** When it was read (ms since the epoch, on the backend's clock). */
  now: number;
  /** The workers whose last report is younger than its TTL, oldest first. */
  workers: WorkerInfo[];
  /** Tasks finished by every worker of the app, ever (as reported). */
  processed: number;
  /** Of those, the ones that ended as `error`. */
  failed: number;
  /**
   * Tasks finished (and failed) over about the last minute: the reports of the current
   * 10-second bucket and the five before it (50 to 60 seconds).
   */
  lastMinute: { processed: number; failed: number };
}

/** Width of a throughput bucket, in ms. */
export const STATS_BUCKET_MS = 10_000;
/** Buckets summed into `lastMinute`: the current one and the five before it. */
export const STATS_MINUTE_BUCKETS = 6;

/** How long a throughput bucket is kept, in ms: an hour of history, plus two minutes of margin. */
export const STATS_HISTORY_MS = 62 * 60_000;

/**
 * The tasks finished in one minute of server time, as {@linkcode GlobalConfig.readThroughput}
 * reports it.
 *
 * @example
 * ```ts
 * import type { ThroughputMinute } from "@qtasks/qtasks/ports";
 *
 * const minute: ThroughputMinute = { at: 1_700_000_040_000, processed: 120, failed: 3 };
 * console.log(minute.processed - minute.failed); // 117
 * ```
 */
export interface ThroughputMinute {
  /** The minute's start (ms since the epoch, server time). */
  at: number;
  /** Tasks finished in that minute (as reported by the workers). */
  processed: number;
  /** Of those, the ones that ended as `error`. */
  failed: number;
}

/**
 * Checks the `minutes` of a throughput read: an integer from 1 to 60.
 *
 * @param minutes The value given.
 * @returns It, checked.
 * @throws {TypeError} When it is not an integer from 1 to 60.
 */
export function checkMinutes(minutes: unknown): number {
  if (typeof minutes !== "number" || !Number.isInteger(minutes) || minutes < 1 || minutes > 60) {
    throw new TypeError(
      `Cannot read the throughput: minutes ${String(minutes)} is not an integer from 1 to 60`,
    );
  }
  return minutes;
}

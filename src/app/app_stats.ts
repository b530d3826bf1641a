import type { QueueTasks } from "./queue_tasks.ts";
import type { QueueStats } from "../model/queue_stats.ts";
import type { WorkerStats } from "../model/worker_report.ts";

/**
 * An app's live stats: its queues (from the broker) and its workers and counters (from the
 * GlobalConfig), as `qtasks stats` shows them.
 *
 * @example
 * ```ts
 * import type { AppStats } from "@qtasks/qtasks";
 *
 * function summary(stats: AppStats): string {
 *   return `${stats.queue.queued} queued, ${stats.workers.length} workers`;
 * }
 * ```
 */
export interface AppStats extends WorkerStats {
  /** The app name. */
  app: string;
  /** The queues; all zero when the broker cannot count them. */
  queue: QueueStats;
}

/**
 * Reads an app's live stats: queue depth per priority, in-flight tasks, the live workers (from
 * their heartbeat records), the app's counters and the last minute's throughput. Redis: two
 * script calls.
 *
 * @param app The app (it need not be started).
 * @returns The stats.
 * @throws {TypeError} When the app's broker has no GlobalConfig.
 *
 * @example
 * ```ts
 * import { QueueTasks, readAppStats } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-stats" });
 * const stats = await readAppStats(app);
 * console.log(stats.queue.queued, stats.workers.length); // 0 0
 * ```
 */
export async function readAppStats(app: QueueTasks): Promise<AppStats> {
  const globalConfig = app.broker.storage.globalConfig;
  if (!globalConfig) {
    throw new TypeError(
      `Cannot read the stats of app "${app.name}": its broker's storage has no GlobalConfig`,
    );
  }
  const [queue, workers] = await Promise.all([
    app.broker.queueStats?.() ??
      { queued: 0, byPriority: [], quarantined: 0, scheduled: 0, inFlight: 0 },
    globalConfig.readWorkerStats(),
  ]);
  return { app: app.name, queue, ...workers };
}

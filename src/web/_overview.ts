import type { QueueTasks } from "../app/queue_tasks.ts";
import { readAppStats } from "../app/app_stats.ts";
import type { QueryStatus } from "../model/task_query.ts";
import type { ThroughputMinute, WorkerInfo } from "../model/worker_report.ts";

/** What the overview shows, as JSON: the one snapshot the live stream sends to every tab. */
export interface OverviewData {
  /** Server time of the snapshot (ms). */
  now: number;
  /** Records per status. */
  byStatus: Record<QueryStatus, number>;
  /** Records per task name and status. */
  byTaskName: Record<string, Record<QueryStatus, number>>;
  /** What is paused. */
  paused: { app: boolean; taskNames: string[] };
  /** Queued tasks per priority. */
  byPriority: { priority: number; count: number }[];
  /** Scheduled and in-flight counts of the queue. */
  queue: { queued: number; scheduled: number; inFlight: number; quarantined: number };
  /** Tasks finished over about the last minute, and ever. */
  lastMinute: { processed: number; failed: number };
  /** Totals. */
  totals: { processed: number; failed: number };
  /** The live workers. */
  workers: WorkerInfo[];
  /** Processed and failed per minute over the last hour, oldest first (empty without history). */
  throughput: ThroughputMinute[];
}

/**
 * Reads the overview: counts (indexed), the queue's stats, the workers' records and the
 * throughput history: four backend calls, whatever the number of records.
 *
 * @param app The app.
 * @returns The snapshot.
 */
export async function readOverview(app: QueueTasks): Promise<OverviewData> {
  const globalConfig = app.broker.storage.globalConfig;
  const [counts, stats, throughput] = await Promise.all([
    app.ops.counts(),
    readAppStats(app),
    globalConfig?.readThroughput?.(60) ?? Promise.resolve([]),
  ]);
  return {
    now: stats.now,
    byStatus: counts.byStatus,
    byTaskName: counts.byTaskName,
    paused: counts.paused,
    byPriority: stats.queue.byPriority,
    queue: {
      queued: stats.queue.queued,
      scheduled: stats.queue.scheduled,
      inFlight: stats.queue.inFlight,
      quarantined: stats.queue.quarantined,
    },
    lastMinute: stats.lastMinute,
    totals: { processed: stats.processed, failed: stats.failed },
    workers: stats.workers,
    throughput,
  };
}

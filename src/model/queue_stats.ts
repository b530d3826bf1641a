/**
 * The broker side of an app's stats: how many tasks wait, per priority, and how many are held.
 *
 * @example
 * ```ts
 * import { MemoryBroker } from "@qtasks/qtasks/memory";
 *
 * const broker = new MemoryBroker({ name: "demo" });
 * const stats = await broker.queueStats();
 * console.log(stats.queued, stats.inFlight); // 0 0
 * ```
 */
export interface QueueStats {
  /** Tasks waiting in the queue, all priorities. */
  queued: number;
  /** Tasks waiting, per priority (lowest priority number first, which runs first). */
  byPriority: Array<{ priority: number; count: number }>;
  /** Tasks recovered from a dead worker, waiting to run alone. */
  quarantined: number;
  /** Delayed tasks and retries not yet due. */
  scheduled: number;
  /** Tasks claimed by workers: running, or claimed ahead of a free slot. */
  inFlight: number;
}

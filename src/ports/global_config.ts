import type { ComponentContext } from "./component_context.ts";
import type { ThroughputMinute, WorkerReport, WorkerStats } from "../model/worker_report.ts";

/**
 * The GlobalConfig port: shared settings (`set`/`get` by group and key) and the heartbeat that
 * tells producers a worker of the app is running. Implementations:
 * {@linkcode MemoryGlobalConfig}, {@linkcode RedisGlobalConfig}.
 *
 * @example
 * ```ts
 * import { MemoryGlobalConfig } from "@qtasks/qtasks/memory";
 *
 * const config = new MemoryGlobalConfig();
 * await config.set("limits", "email", "100");
 * console.log(await config.get("limits", "email")); // "100"
 * ```
 */
export interface GlobalConfig {
  /** The app name. */
  readonly name: string;
  /** Starts the heartbeat (status `running`, refreshed before its TTL ends). */
  start(context: ComponentContext): Promise<void>;
  /**
   * Optional: takes what it needs from `context` without starting anything (the app calls it
   * once, when it is created, also in a producer that never calls `app.start()`; `start` gets
   * the same context again). The app's plugins need no attach: the trigger decorator takes them.
   */
  attach?(context: ComponentContext): void;
  /** Stops the heartbeat and removes the running status. */
  stop(): Promise<void>;
  /**
   * Optional, for an implementation that refreshes its heartbeat on a timer: calls `listener`
   * after each refresh written (not the first heartbeat, which `start` writes); returns a
   * function that stops it. The trigger decorator fires `global_config_set_status` from it.
   */
  watchHeartbeats?(listener: () => void): () => void;
  /** Stores `value` under `key` in the group `name`. */
  set(name: string, key: string, value: string): Promise<void>;
  /** Reads one value. */
  get(name: string, key: string): Promise<string | undefined>;
  /** Reads every key of a group. */
  getAll(name: string): Promise<Record<string, string>>;
  /**
   * Reads the keys of a group that match a glob `pattern`, as Redis `MATCH` does: `*` (any
   * characters), `?` (one), `[abc]`, `[a-z]`, `[^a]` (one of a set, or not), `\` (escapes the
   * next character).
   */
  getMatch(name: string, pattern: string): Promise<Record<string, string>>;
  /** Whether a started app (a worker) has a live heartbeat. */
  isRunning(): Promise<boolean>;
  /**
   * Claims `key` for `ttlMs`: resolves `true` for the first caller, `false` for every other
   * caller (in any process) until the claim expires. With `record`, the winner also stores
   * `record.value` under `record.key` in group `record.name`, atomically with the claim (Redis:
   * one script). The Timer claims each fire this way, so each fire is enqueued once.
   */
  claimOnce(
    key: string,
    ttlMs: number,
    record?: { name: string; key: string; value: string },
  ): Promise<boolean>;
  /**
   * Records a worker's report: its heartbeat record (alive for `ttlMs`), and its counter
   * deltas added to its totals, the app's totals and the current throughput bucket.
   */
  reportWorker(report: WorkerReport): Promise<void>;
  /** Reads the live workers, the app's totals and the last minute's throughput. */
  readWorkerStats(): Promise<WorkerStats>;
  /**
   * Tasks finished per minute over the last `minutes` minutes (at most 60), oldest first, the
   * current (partial) minute last: the sums of the workers' throughput buckets, which are kept
   * for an hour. Optional: a backend without it has no throughput history.
   */
  readThroughput?(minutes: number): Promise<ThroughputMinute[]>;
}

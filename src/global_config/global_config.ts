import type { ComponentContext } from "../broker/broker.ts";

/**
 * The GlobalConfig port: shared settings (`set`/`get` by group and key) and the heartbeat that
 * tells producers a worker of the app is running. Implementations:
 * {@linkcode MemoryGlobalConfig}, {@linkcode RedisGlobalConfig}.
 *
 * @example
 * ```ts
 * import { MemoryGlobalConfig } from "@qtasks/qtasks";
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
   * Optional: takes the app's plugins and name from `context` without starting anything, so
   * that its triggers fire in a producer that never calls `app.start()`. The app calls it once,
   * when it is created; `start` binds the same context again.
   */
  attach?(context: ComponentContext): void;
  /** Stops the heartbeat and removes the running status. */
  stop(): Promise<void>;
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
}

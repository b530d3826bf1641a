import type { ComponentContext } from "../../ports/broker.ts";
import { RedisConnection, type RedisConnectionOptions } from "./redis_connection.ts";
import { type RedisKeys, redisKeys } from "./redis_keys.ts";
import { decodeHeartbeat, encodeHeartbeat, heartbeatScript } from "./scripts/_heartbeat.ts";
import { claimOnceScript, decodeClaimOnce, encodeClaimOnce } from "./scripts/_claim_once.ts";
import {
  decodeReadThroughput,
  encodeReadThroughput,
  readThroughputScript,
} from "./scripts/_read_throughput.ts";
import {
  decodeReadWorkerStats,
  encodeReadWorkerStats,
  readWorkerStatsScript,
} from "./scripts/_read_worker_stats.ts";
import {
  decodeWorkerReport,
  encodeWorkerReport,
  workerReportScript,
} from "./scripts/_worker_report.ts";
import { replyPairs } from "./scripts/_reply.ts";
import {
  checkMinutes,
  STATS_MINUTE_BUCKETS,
  type ThroughputMinute,
  type WorkerReport,
  type WorkerStats,
} from "../../model/worker_report.ts";
import { checkClaim } from "../../ports/_check_claim.ts";
import type { GlobalConfig } from "../../ports/global_config.ts";

/**
 * Options of the Redis components: the app name and either a URL or a shared connection.
 *
 * @example
 * ```ts
 * import type { RedisComponentOptions } from "@qtasks/qtasks/redis";
 *
 * const options: RedisComponentOptions = { name: "shop", url: "redis://127.0.0.1:6379/0" };
 * ```
 */
export interface RedisComponentOptions {
  /** The app name (default `QueueTasks`). */
  name?: string;
  /** Redis URL (default: the parent component's connection, else `redis://127.0.0.1:6379`). */
  url?: string;
  /** A connection to share. */
  connection?: RedisConnection;
  /** For a connection made from `url`: its timeout, TLS settings and client factory. */
  redis?: Omit<RedisConnectionOptions, "url">;
}

/**
 * Redis {@linkcode GlobalConfig}: settings in `{app}:GlobalConfig:{group}` hashes, and a
 * heartbeat per running instance (`{app}:GlobalConfig:heartbeats`), mirrored into QTasks'
 * `{app}:GlobalConfig:main` status hash.
 *
 * @example
 * ```ts
 * import { RedisGlobalConfig } from "@qtasks/qtasks/redis";
 *
 * const config = new RedisGlobalConfig({ name: "docs-gc", url: "redis://127.0.0.1:6379" });
 * await config.set("limits", "email", "100");
 * console.log(await config.get("limits", "email")); // "100"
 * await config.stop();
 * ```
 */
export class RedisGlobalConfig implements GlobalConfig {
  /** The app name. */
  readonly name: string;
  /** The shared connection. */
  readonly connection: RedisConnection;
  /** The app's keys. */
  readonly keys: RedisKeys;
  #instance = crypto.randomUUID();
  #timer: ReturnType<typeof setInterval> | undefined;
  #ttlMs = 20_000;
  #holds = true;
  #heartbeatListeners = new Set<() => void>();

  /**
   * Creates a RedisGlobalConfig.
   *
   * @param options Name and URL or connection.
   */
  constructor(options: RedisComponentOptions = {}) {
    this.name = options.name ?? "QueueTasks";
    this.keys = redisKeys(this.name);
    this.connection = options.connection ??
      new RedisConnection({ ...options.redis, url: options.url });
    this.connection.acquire();
  }

  /**
   * Writes the first heartbeat and starts the periodic ones (each one written tells the
   * {@linkcode RedisGlobalConfig.watchHeartbeats} listeners).
   */
  async start(context: ComponentContext): Promise<void> {
    if (!this.#holds) {
      this.connection.acquire();
      this.#holds = true;
    }
    const { config, logger } = context;
    this.#ttlMs = config.globalConfigStatusTtlMs;
    await this.#beat("beat");
    clearInterval(this.#timer);
    this.#timer = setInterval(() => {
      this.#beat("beat").then(() => this.#beaten()).catch((error) =>
        logger.warn(`GlobalConfig heartbeat failed: ${(error as Error).message}`)
      );
    }, config.globalConfigStatusSetPeriodicMs);
  }

  /** Calls `listener` after each periodic heartbeat written; returns a function that stops it. */
  watchHeartbeats(listener: () => void): () => void {
    this.#heartbeatListeners.add(listener);
    return () => void this.#heartbeatListeners.delete(listener);
  }

  /** Stops the heartbeat and removes this instance's running status, then releases the connection. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      await this.#beat("stop").catch(() => 0);
    }
    if (this.#holds) {
      this.#holds = false;
      await this.connection.release();
    }
  }

  /** Stores a value (HSET). */
  async set(name: string, key: string, value: string): Promise<void> {
    await this.connection.command(["HSET", this.keys.globalConfig(name), key, String(value)]);
  }

  /** Reads a value (HGET). */
  async get(name: string, key: string): Promise<string | undefined> {
    const value = await this.connection.command(["HGET", this.keys.globalConfig(name), key]);
    return typeof value === "string" ? value : undefined;
  }

  /** Reads a group (HGETALL). */
  async getAll(name: string): Promise<Record<string, string>> {
    return pairsToObject(
      await this.connection.command(["HGETALL", this.keys.globalConfig(name)]),
    );
  }

  /**
   * Reads the keys of a group that match a glob (HSCAN … MATCH; see
   * {@linkcode GlobalConfig.getMatch}).
   */
  async getMatch(name: string, pattern: string): Promise<Record<string, string>> {
    const key = this.keys.globalConfig(name);
    const result: Record<string, string> = {};
    let cursor = "0";
    do {
      const reply = await this.connection.command([
        "HSCAN",
        key,
        cursor,
        "MATCH",
        pattern,
        "COUNT",
        "1000",
      ]) as [string, string[]];
      cursor = reply[0];
      Object.assign(result, pairsToObject(reply[1]));
    } while (cursor !== "0");
    return result;
  }

  /** Whether any instance of the app has a live heartbeat. */
  async isRunning(): Promise<boolean> {
    return await this.#beat("check") > 0;
  }

  /**
   * Claims `key` for `ttlMs` with `SET {app}:claim:<key> 1 NX PX ttl`, and on success stores
   * `record` in the same script (see {@linkcode GlobalConfig.claimOnce}).
   */
  async claimOnce(
    key: string,
    ttlMs: number,
    record?: { name: string; key: string; value: string },
  ): Promise<boolean> {
    checkClaim(key, ttlMs);
    const { keys, args } = encodeClaimOnce(this.keys, { key, ttlMs, record });
    return decodeClaimOnce(await this.connection.script(claimOnceScript, keys, args));
  }

  /** Records a worker's report in one script (see {@linkcode GlobalConfig.reportWorker}). */
  async reportWorker(report: WorkerReport): Promise<void> {
    const { keys, args } = encodeWorkerReport(this.keys, report);
    decodeWorkerReport(await this.connection.script(workerReportScript, keys, args));
  }

  /** Reads the live workers and the counters in one script (see {@linkcode GlobalConfig.readWorkerStats}). */
  async readWorkerStats(): Promise<WorkerStats> {
    const { keys, args } = encodeReadWorkerStats(this.keys, STATS_MINUTE_BUCKETS);
    return decodeReadWorkerStats(await this.connection.script(readWorkerStatsScript, keys, args));
  }

  /** Tasks finished per minute, in one script (see {@linkcode GlobalConfig.readThroughput}). */
  async readThroughput(minutes: number): Promise<ThroughputMinute[]> {
    const { keys, args } = encodeReadThroughput(this.keys, checkMinutes(minutes));
    return decodeReadThroughput(await this.connection.script(readThroughputScript, keys, args));
  }

  #beaten(): void {
    for (const listener of [...this.#heartbeatListeners]) listener();
  }

  async #beat(mode: "beat" | "stop" | "check"): Promise<number> {
    const { keys, args } = encodeHeartbeat(this.keys, {
      mode,
      instance: this.#instance,
      ttlMs: this.#ttlMs,
      appName: this.name,
    });
    return decodeHeartbeat(await this.connection.script(heartbeatScript, keys, args));
  }
}

/**
 * Turns a flat `[field, value, …]` reply into an object.
 *
 * @param reply An HGETALL reply.
 * @returns The object.
 *
 * @example
 * ```ts
 * import { pairsToObject } from "./redis_global_config.ts";
 *
 * console.log(pairsToObject(["a", "1", "b", "2"])); // { a: "1", b: "2" }
 * ```
 */
export function pairsToObject(reply: unknown): Record<string, string> {
  return replyPairs(reply);
}

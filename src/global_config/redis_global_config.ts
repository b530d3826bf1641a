import type { ComponentContext } from "../broker/broker.ts";
import { RedisConnection, type RedisConnectionOptions } from "../redis/redis_connection.ts";
import { type RedisKeys, redisKeys } from "../redis/redis_keys.ts";
import { heartbeatScript } from "../redis/scripts/heartbeat.ts";
import type { GlobalConfig } from "./global_config.ts";

/**
 * Options of the Redis components: the app name and either a URL or a shared connection.
 *
 * @example
 * ```ts
 * import type { RedisComponentOptions } from "@qtasks/qtasks";
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
 * import { RedisGlobalConfig } from "@qtasks/qtasks";
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

  /** @param options Name and URL or connection. */
  constructor(options: RedisComponentOptions = {}) {
    this.name = options.name ?? "QueueTasks";
    this.keys = redisKeys(this.name);
    this.connection = options.connection ??
      new RedisConnection({ ...options.redis, url: options.url });
    this.connection.acquire();
  }

  /** Starts the heartbeat. */
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
      this.#beat("beat").catch((error) =>
        logger.warn(`GlobalConfig heartbeat failed: ${(error as Error).message}`)
      );
    }, config.globalConfigStatusSetPeriodicMs);
  }

  /** Stops the heartbeat and releases the connection. */
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

  /** Stores a value. */
  async set(name: string, key: string, value: string): Promise<void> {
    await this.connection.command(["HSET", this.keys.globalConfig(name), key, String(value)]);
  }

  /** Reads a value. */
  async get(name: string, key: string): Promise<string | undefined> {
    const value = await this.connection.command(["HGET", this.keys.globalConfig(name), key]);
    return typeof value === "string" ? value : undefined;
  }

  /** Reads a group. */
  async getAll(name: string): Promise<Record<string, string>> {
    return pairsToObject(await this.connection.command(["HGETALL", this.keys.globalConfig(name)]));
  }

  /** Whether any instance of the app has a live heartbeat. */
  async isRunning(): Promise<boolean> {
    return await this.#beat("check") > 0;
  }

  async #beat(mode: "beat" | "stop" | "check"): Promise<number> {
    const reply = await this.connection.script(
      heartbeatScript,
      [this.keys.heartbeats, this.keys.globalConfig("main")],
      [mode, this.#instance, String(this.#ttlMs), this.name],
    );
    return Number(reply);
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
 * import { pairsToObject } from "@qtasks/qtasks";
 *
 * console.log(pairsToObject(["a", "1", "b", "2"])); // { a: "1", b: "2" }
 * ```
 */
export function pairsToObject(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}

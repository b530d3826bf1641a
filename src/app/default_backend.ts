import { MemoryBroker } from "../backends/memory/memory_broker.ts";
import type { RedisConnectionOptions } from "../backends/redis/redis_connection.ts";
import { RedisBroker } from "../backends/redis/redis_broker.ts";
import { ConfigError } from "../model/errors/config_error.ts";
import { isPostgresUrl, lazyPostgresBroker } from "./_lazy_postgres_broker.ts";
import type { Broker } from "../ports/broker.ts";

/**
 * What {@linkcode defaultBackend} reads: the backend fields of `QueueTasksOptions`.
 *
 * @example
 * ```ts
 * import type { DefaultBackendOptions } from "./default_backend.ts";
 *
 * const options: DefaultBackendOptions = { brokerUrl: "redis://127.0.0.1:6379/0" };
 * ```
 */
export interface DefaultBackendOptions {
  /**
   * `redis://` or `rediss://` URL (or `redis+cluster://`, `redis+sentinel://`: see
   * docs/redis-cluster.md): use the Redis backend; `postgres://` or `postgresql://`: the PostgreSQL
   * backend (loaded when the app first uses it, schema `qtasks`).
   */
  brokerUrl?: string;
  /**
   * With `brokerUrl`: TLS settings or another client factory. `redis.cluster` (seed nodes of a
   * Redis Cluster) also selects the Redis backend, in place of `brokerUrl`.
   */
  redis?: Omit<RedisConnectionOptions, "url" | "timeoutMs">;
  /** A broker the caller assembled: used as it is. */
  broker?: Broker;
}

/**
 * Where the `QTASKS_BROKER_URL` variable (under the config's prefix) was read from, for
 * {@linkcode defaultBackend}: its name and value.
 *
 * @example
 * ```ts
 * import type { BrokerUrlFromEnv } from "./default_backend.ts";
 *
 * const fromEnv: BrokerUrlFromEnv = { name: "QTASKS_BROKER_URL", value: "redis://127.0.0.1:6379" };
 * ```
 */
export interface BrokerUrlFromEnv {
  /** The variable's name. */
  name: string;
  /** Its value (`undefined` when it is unset). */
  value: string | undefined;
}

/**
 * The app's backend preset: the caller's broker if it gave one, else a Redis broker (with its
 * storage and global config) on `brokerUrl` (or, without one, on the `QTASKS_BROKER_URL`
 * variable), or a PostgreSQL one for a `postgres://` URL (its module and driver loaded with a
 * dynamic import on first use, so the core never loads them), else the in-memory backend. The only place the app
 * constructs a broker.
 *
 * @param appName The app name (the namespace of the backend's keys).
 * @param options The caller's `broker`, or `brokerUrl` and `redis`.
 * @param backendTimeoutMs The app's `backendTimeoutMs` (each Redis command's time limit).
 * @param fromEnv The `QTASKS_BROKER_URL` variable: used when the options name no backend.
 * @returns The broker; its `storage` and `storage.globalConfig` come with it.
 * @throws {TypeError} When both `broker` and `brokerUrl` are given.
 * @throws {ConfigError} When a `brokerUrl` key is present but empty or `undefined` (an unset
 *   environment variable, `brokerUrl: process.env.REDIS_URL`), or `QTASKS_BROKER_URL` is set but
 *   empty: the in-memory backend is never picked silently in their place.
 *
 * @example
 * ```ts
 * import { defaultBackend } from "./default_backend.ts";
 *
 * const broker = defaultBackend("docs-default-backend", {}, 5_000);
 * console.log(broker.constructor.name); // MemoryBroker
 * ```
 */
export function defaultBackend(
  appName: string,
  options: DefaultBackendOptions,
  backendTimeoutMs: number,
  fromEnv?: BrokerUrlFromEnv,
): Broker {
  if (Object.hasOwn(options, "brokerUrl") && !options.brokerUrl) {
    throw new ConfigError(
      "brokerUrl",
      `Cannot create app "${appName}": brokerUrl is empty (${
        options.brokerUrl === undefined ? "undefined: an unset environment variable?" : '""'
      }); give a redis:// URL, or leave the key out for the in-memory backend (this process only)`,
    );
  }
  if (options.broker && options.brokerUrl) {
    throw new TypeError(
      `Cannot create app "${appName}": give either broker or brokerUrl, not both`,
    );
  }
  if (options.broker) return options.broker;
  let url = options.brokerUrl;
  if (url === undefined && fromEnv !== undefined && fromEnv.value !== undefined) {
    if (fromEnv.value.trim() === "") {
      throw new ConfigError(
        "brokerUrl",
        `Cannot create app "${appName}": ${fromEnv.name} is set but empty; give a redis:// URL, or unset it for the in-memory backend (this process only)`,
      );
    }
    url = fromEnv.value.trim();
  }
  if (url && isPostgresUrl(url)) return lazyPostgresBroker(appName, url, backendTimeoutMs);
  if (url || options.redis?.cluster) {
    return new RedisBroker({
      name: appName,
      url,
      redis: { ...options.redis, timeoutMs: backendTimeoutMs },
    });
  }
  return new MemoryBroker({ name: appName });
}

import { MemoryBroker } from "../backends/memory/memory_broker.ts";
import type { RedisConnectionOptions } from "../backends/redis/redis_connection.ts";
import { RedisBroker } from "../backends/redis/redis_broker.ts";
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
  /** `redis://` or `rediss://` URL: use the Redis backend. */
  brokerUrl?: string;
  /** With `brokerUrl`: TLS settings or another client factory. */
  redis?: Omit<RedisConnectionOptions, "url" | "timeoutMs">;
  /** A broker the caller assembled: used as it is. */
  broker?: Broker;
}

/**
 * The app's backend preset: the caller's broker if it gave one, else a Redis broker (with its
 * storage and global config) on `brokerUrl`, else the in-memory backend. The only place the app
 * constructs a broker.
 *
 * @param appName The app name (the namespace of the backend's keys).
 * @param options The caller's `broker`, or `brokerUrl` and `redis`.
 * @param backendTimeoutMs The app's `backendTimeoutMs` (each Redis command's time limit).
 * @returns The broker; its `storage` and `storage.globalConfig` come with it.
 * @throws {TypeError} When both `broker` and `brokerUrl` are given.
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
): Broker {
  if (options.broker && options.brokerUrl) {
    throw new TypeError(
      `Cannot create app "${appName}": give either broker or brokerUrl, not both`,
    );
  }
  if (options.broker) return options.broker;
  if (options.brokerUrl) {
    return new RedisBroker({
      name: appName,
      url: options.brokerUrl,
      redis: { ...options.redis, timeoutMs: backendTimeoutMs },
    });
  }
  return new MemoryBroker({ name: appName });
}

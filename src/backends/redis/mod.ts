/**
 * The Redis backend, assembled by hand: {@linkcode RedisBroker} (queue, leases, claims: atomic
 * Lua scripts), {@linkcode RedisStorage} (records) and {@linkcode RedisGlobalConfig} (settings,
 * heartbeats), which share one {@linkcode RedisConnection}; the client interface it talks to
 * ({@linkcode RedisClient}, node-redis by default) and its errors; the key layout
 * ({@linkcode redisKeys}). `new QueueTasks({ brokerUrl })` builds these for you; import them to
 * share one connection between components, give your own client, or read the keys.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { RedisBroker, RedisGlobalConfig, RedisStorage } from "@qtasks/qtasks/redis";
 *
 * const url = "redis://127.0.0.1:6379";
 * const globalConfig = new RedisGlobalConfig({ name: "assembled-redis", url });
 * const storage = new RedisStorage({ name: "assembled-redis", globalConfig });
 * const broker = new RedisBroker({ name: "assembled-redis", storage });
 * const app = new QueueTasks({ name: "assembled-redis", broker });
 * app.task("hello", (who: string) => `hello ${who}`);
 * await app.start();
 * console.log(await (await app.addTask("hello", ["redis"])).value()); // "hello redis"
 * await app.flushAll();
 * await app.stop();
 * ```
 *
 * @module
 */
export { RedisBroker } from "./redis_broker.ts";
export { RedisStorage } from "./redis_storage.ts";
export { RedisGlobalConfig } from "./redis_global_config.ts";
export type { RedisComponentOptions } from "./redis_global_config.ts";
export { RedisConnection } from "./redis_connection.ts";
export type { RedisConnectionOptions } from "./redis_connection.ts";
export { createNodeRedisClient } from "./node_redis_client.ts";
export type { NodeRedisClientOptions } from "./node_redis_client.ts";
export { RedisOfflineError } from "./redis_client.ts";
export type { RedisClient, RedisReply } from "./redis_client.ts";
export { RedisScript } from "./redis_script.ts";
export { RedisReplyError } from "./redis_reply_error.ts";
export { partitionKeys, partitionOf, redisKeys } from "./redis_keys.ts";
export type { RedisKeys } from "./redis_keys.ts";

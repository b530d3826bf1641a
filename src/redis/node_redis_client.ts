import { createClient, ErrorReply } from "redis";
import type { RedisClient, RedisReply } from "./redis_client.ts";
import { RedisReplyError } from "./redis_reply_error.ts";

type NodeRedis = ReturnType<typeof createClient>;

/**
 * Options of {@linkcode createNodeRedisClient}.
 *
 * @example
 * ```ts
 * import type { NodeRedisClientOptions } from "@qtasks/qtasks";
 *
 * const options: NodeRedisClientOptions = { connectTimeoutMs: 2_000 };
 * ```
 */
export interface NodeRedisClientOptions {
  /** How long one connection attempt may take (default 5 000 ms). */
  connectTimeoutMs?: number;
}

function wrap(client: NodeRedis): RedisClient {
  return {
    connect: async () => {
      await client.connect();
    },
    send: (args) =>
      (client.sendCommand(args) as Promise<RedisReply>).catch((error: unknown) => {
        throw error instanceof ErrorReply
          ? new RedisReplyError(error.message, { cause: error })
          : error;
      }),
    duplicate: () => wrap(client.duplicate()),
    subscribe: async (channel, listener) => {
      await client.subscribe(channel, (message: string) => listener(message));
    },
    unsubscribe: async (channel) => {
      await client.unsubscribe(channel);
    },
    close: async () => {
      if (client.isOpen) await client.close();
    },
    destroy: () => {
      if (client.isOpen) client.destroy();
    },
    onError: (listener) => {
      client.on("error", listener);
    },
  };
}

/**
 * Creates the default {@linkcode RedisClient}, on node-redis. `redis://` and `rediss://` (TLS)
 * URLs with ACL user and password are supported; it reconnects with backoff by itself.
 *
 * @param url The Redis URL.
 * @param options Connection options.
 * @returns An unconnected client.
 *
 * @example
 * ```ts
 * import { createNodeRedisClient } from "@qtasks/qtasks";
 *
 * const client = createNodeRedisClient("redis://127.0.0.1:6379");
 * await client.connect();
 * console.log(await client.send(["PING"])); // "PONG"
 * await client.close();
 * ```
 */
export function createNodeRedisClient(
  url: string,
  options: NodeRedisClientOptions = {},
): RedisClient {
  const client = createClient({
    url,
    RESP: 2,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 5_000,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 10), 2_000),
    },
  });
  return wrap(client as NodeRedis);
}

import { ClientOfflineError, createClient, ErrorReply } from "redis";
import { type RedisClient, RedisOfflineError, type RedisReply } from "./redis_client.ts";
import { RedisReplyError } from "./redis_reply_error.ts";

type NodeRedis = ReturnType<typeof createClient>;

/**
 * Options of {@linkcode createNodeRedisClient}.
 *
 * @example
 * ```ts
 * import type { NodeRedisClientOptions } from "@qtasks/qtasks/redis";
 *
 * const options: NodeRedisClientOptions = { connectTimeoutMs: 2_000, tls: { ca: "-----BEGIN CERTIFICATE-----…" } };
 * ```
 */
export interface NodeRedisClientOptions {
  /** How long one connection attempt may take (default 5 000 ms). */
  connectTimeoutMs?: number;
  /** TLS settings for `rediss://` URLs: a CA to trust (PEM), or whether to verify the server. */
  tls?: { ca?: string; rejectUnauthorized?: boolean };
}

function mapError(error: unknown): unknown {
  if (error instanceof ErrorReply) return new RedisReplyError(error.message, { cause: error });
  if (error instanceof ClientOfflineError) return new RedisOfflineError({ cause: error });
  return error;
}

function wrap(client: NodeRedis): RedisClient {
  return {
    connect: async () => {
      try {
        await client.connect();
      } catch (error) {
        throw mapError(error);
      }
    },
    isReady: () => client.isReady,
    onReady: (listener) => {
      client.on("ready", listener);
      return () => void client.off("ready", listener);
    },
    send: (args) =>
      (client.sendCommand(args) as Promise<RedisReply>).catch((error: unknown) => {
        throw mapError(error);
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
 * URLs with ACL user and password are supported; it reconnects with backoff (50 ms doubling to
 * 2 s) by itself, and does not queue commands while offline.
 *
 * @param url The Redis URL.
 * @param options Connection options.
 * @returns An unconnected client.
 *
 * @example
 * ```ts
 * import { createNodeRedisClient } from "@qtasks/qtasks/redis";
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
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.connectTimeoutMs ?? 5_000,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 10), 2_000),
      ...(options.tls?.ca !== undefined ? { ca: options.tls.ca } : {}),
      ...(options.tls?.rejectUnauthorized !== undefined
        ? { rejectUnauthorized: options.tls.rejectUnauthorized }
        : {}),
    },
  });
  return wrap(client as NodeRedis);
}

/**
 * A reply from Redis, as QTasks reads it (RESP2 shapes).
 *
 * @example
 * ```ts
 * import type { RedisReply } from "@qtasks/qtasks/redis";
 *
 * const reply: RedisReply = ["a", 1, null];
 * ```
 */
export type RedisReply = string | number | null | RedisReply[];

/**
 * Thrown by a {@linkcode RedisClient} for a command it did not send because it is not connected
 * (it is reconnecting). Such a command is safe to send again once the client is ready.
 *
 * @example
 * ```ts
 * import { RedisOfflineError } from "@qtasks/qtasks/redis";
 *
 * console.log(new RedisOfflineError().message);
 * ```
 */
export class RedisOfflineError extends Error {
  /**
   * Creates the error.
   *
   * @param options Standard error options (`cause`).
   */
  constructor(options?: ErrorOptions) {
    super("The Redis client is offline: the command was not sent", options);
    this.name = "RedisOfflineError";
  }
}

/**
 * The small interface QTasks needs from a Redis client. The default is node-redis
 * ({@linkcode createNodeRedisClient}); another client (ioredis, Bun's) can be plugged in by
 * implementing this. A client reconnects by itself after a connection loss; while it is not
 * ready, `send` rejects with {@linkcode RedisOfflineError} instead of queueing the command, and
 * error replies reject with {@linkcode RedisReplyError}.
 *
 * @example A client that counts the commands it sends
 * ```ts
 * import { createNodeRedisClient, type RedisClient } from "@qtasks/qtasks/redis";
 *
 * function counting(inner: RedisClient, counter: { sent: number }): RedisClient {
 *   return {
 *     ...inner,
 *     send: (args) => {
 *       counter.sent++;
 *       return inner.send(args);
 *     },
 *     duplicate: () => counting(inner.duplicate(), counter),
 *   };
 * }
 * const client = counting(createNodeRedisClient("redis://127.0.0.1:6379"), { sent: 0 });
 * ```
 */
export interface RedisClient {
  /** Opens the connection (the first time). */
  connect(): Promise<void>;
  /** Whether the connection is up and commands are sent now. */
  isReady(): boolean;
  /** Calls `listener` each time the connection is (re)established; returns a remover. */
  onReady(listener: () => void): () => void;
  /** Sends one command. */
  send(args: readonly string[]): Promise<RedisReply>;
  /**
   * Sends a keyless command (`WAIT`) on the connection that carries the commands on `key`: a
   * cluster client sends it to the node holding `key`'s slot; optional, other clients use
   * `send`.
   */
  sendBeside?(key: string, args: readonly string[]): Promise<RedisReply>;
  /** A new, unconnected client to the same server (for blocking calls and pub/sub). */
  duplicate(): RedisClient;
  /** Subscribes this (dedicated) client to a channel; kept across reconnections. */
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  /** Unsubscribes from a channel. */
  unsubscribe(channel: string): Promise<void>;
  /** Closes after pending replies. */
  close(): Promise<void>;
  /** Closes at once, failing pending commands (cancels a blocking call). */
  destroy(): void;
  /** Calls `listener` on connection errors (the client reconnects by itself). */
  onError(listener: (error: Error) => void): void;
}

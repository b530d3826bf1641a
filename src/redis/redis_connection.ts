import { BackendError } from "../errors/backend_error.ts";
import { createNodeRedisClient } from "./node_redis_client.ts";
import type { RedisClient, RedisReply } from "./redis_client.ts";
import { RedisReplyError } from "./redis_reply_error.ts";
import type { RedisScript } from "./redis_script.ts";
import { redactUrl } from "./redact_url.ts";

/**
 * Options of {@linkcode RedisConnection}.
 *
 * @example
 * ```ts
 * import type { RedisConnectionOptions } from "@qtasks/qtasks";
 *
 * const options: RedisConnectionOptions = { url: "redis://127.0.0.1:6379" };
 * ```
 */
export interface RedisConnectionOptions {
  /** `redis://` or `rediss://` URL (default `redis://127.0.0.1:6379`). */
  url?: string;
  /** Makes the client (default node-redis); for other clients and tests. */
  createClient?: (url: string) => RedisClient;
  /** How long the first connection may take before commands fail with a BackendError (default 10 000 ms). */
  connectTimeoutMs?: number;
}

/**
 * One app's link to Redis, shared by its GlobalConfig, Storage and Broker: a command client
 * (connected on first use), a dedicated client for blocking waits, and one subscriber client
 * shared by every result waiter. Components acquire and release it; the last release closes it.
 *
 * @example
 * ```ts
 * import { RedisConnection } from "@qtasks/qtasks";
 *
 * const connection = new RedisConnection({ url: "redis://127.0.0.1:6379" });
 * console.log(await connection.command(["PING"])); // "PONG"
 * await connection.close();
 * ```
 */
export class RedisConnection {
  /** The URL with its password hidden. */
  readonly redactedUrl: string;
  #url: string;
  #create: (url: string) => RedisClient;
  #client: RedisClient | undefined;
  #connecting: Promise<RedisClient> | undefined;
  #blocking: RedisClient | undefined;
  #subscriber: Promise<RedisClient> | undefined;
  #channels = new Map<string, Set<(message: string) => void>>();
  #users = 0;
  #errorListeners = new Set<(error: Error) => void>();
  #connectTimeoutMs: number;

  /** @param options URL and client factory. */
  constructor(options: RedisConnectionOptions = {}) {
    this.#url = options.url ?? "redis://127.0.0.1:6379";
    if (!/^rediss?:\/\//.test(this.#url)) {
      throw new TypeError(
        `Cannot connect to ${redactUrl(this.#url)}: the URL must start with redis:// or rediss://`,
      );
    }
    this.redactedUrl = redactUrl(this.#url);
    this.#create = options.createClient ?? ((url) => createNodeRedisClient(url));
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  }

  /** Registers a user of the connection (a component that will release it). */
  acquire(): void {
    this.#users++;
  }

  /** Releases a user; the last one closes the connection. */
  async release(): Promise<void> {
    this.#users = Math.max(0, this.#users - 1);
    if (this.#users === 0) await this.close();
  }

  /** Calls `listener` with connection errors (redacted). */
  onError(listener: (error: Error) => void): void {
    this.#errorListeners.add(listener);
  }

  /** Sends one command. */
  async command(args: readonly string[]): Promise<RedisReply> {
    const client = await this.#ready();
    try {
      return await client.send(args);
    } catch (error) {
      throw this.#wrap(error, args[0]);
    }
  }

  /** Runs a script by SHA, loading it with EVAL when the server does not have it. */
  async script(
    script: RedisScript,
    keys: readonly string[],
    args: readonly string[],
  ): Promise<RedisReply> {
    if (keys.length !== script.keyCount) {
      throw new TypeError(
        `Script ${script.name} takes ${script.keyCount} keys, got ${keys.length}`,
      );
    }
    const client = await this.#ready();
    const sha = await script.sha();
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await client.send(["EVALSHA", sha, ...tail]);
    } catch (error) {
      if (!(error instanceof RedisReplyError && error.code === "NOSCRIPT")) {
        throw this.#wrap(error, script.name);
      }
    }
    try {
      return await client.send(["EVAL", script.source, ...tail]);
    } catch (error) {
      throw this.#wrap(error, script.name);
    }
  }

  /**
   * Sends a blocking command on the dedicated blocking client. Aborting the signal closes that
   * client (the only way to cancel a blocking call) and resolves with `null`.
   */
  async blocking(args: readonly string[], signal: AbortSignal): Promise<RedisReply> {
    if (signal.aborted) return null;
    const client = this.#blocking ??= await this.#open();
    const onAbort = () => {
      if (this.#blocking === client) this.#blocking = undefined;
      client.destroy();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await client.send(args);
    } catch (error) {
      // Aborted, or closed by close(): a wake-up, not a failure.
      if (signal.aborted || this.#blocking !== client) return null;
      throw this.#wrap(error, args[0]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Listens on a pub/sub channel through the shared subscriber; returns the unsubscribe function. */
  async subscribe(channel: string, listener: (message: string) => void): Promise<() => void> {
    let listeners = this.#channels.get(channel);
    const subscriber = await this.#ensureSubscriber();
    if (!listeners) {
      listeners = new Set();
      this.#channels.set(channel, listeners);
      const set = listeners;
      try {
        await subscriber.subscribe(channel, (message) => {
          for (const fn of set) fn(message);
        });
      } catch (error) {
        this.#channels.delete(channel);
        throw this.#wrap(error, "SUBSCRIBE");
      }
    }
    listeners.add(listener);
    const set = listeners;
    return () => void set.delete(listener);
  }

  /** Closes every client. */
  async close(): Promise<void> {
    const client = this.#client ?? await this.#connecting?.catch(() => undefined);
    this.#client = undefined;
    this.#connecting = undefined;
    this.#blocking?.destroy();
    this.#blocking = undefined;
    const subscriber = await this.#subscriber?.catch(() => undefined);
    this.#subscriber = undefined;
    this.#channels.clear();
    await Promise.all([
      subscriber?.close().catch(() => subscriber.destroy()),
      client?.close().catch(() => client.destroy()),
    ]);
  }

  #newClient(): RedisClient {
    const client = this.#create(this.#url);
    client.onError((error) => {
      const wrapped = this.#wrap(error, "connection");
      for (const listener of this.#errorListeners) listener(wrapped);
    });
    return client;
  }

  async #connect(client: RedisClient): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new BackendError(
              `Cannot reach Redis at ${this.redactedUrl}: no connection within ${this.#connectTimeoutMs} ms`,
            ),
          ),
        this.#connectTimeoutMs,
      );
    });
    try {
      await Promise.race([client.connect(), deadline]);
    } catch (error) {
      client.destroy();
      throw this.#wrap(error, "connect");
    } finally {
      clearTimeout(timer);
    }
  }

  /** A new client, connected within the connect timeout. */
  async #open(): Promise<RedisClient> {
    const client = this.#newClient();
    await this.#connect(client);
    return client;
  }

  #ready(): Promise<RedisClient> {
    if (this.#client) return Promise.resolve(this.#client);
    this.#connecting ??= this.#open().then((client) => this.#client = client, (error) => {
      this.#connecting = undefined;
      throw error;
    });
    return this.#connecting;
  }

  #ensureSubscriber(): Promise<RedisClient> {
    this.#subscriber ??= this.#open().catch((error) => {
      this.#subscriber = undefined;
      throw error;
    });
    return this.#subscriber;
  }

  #wrap(error: unknown, what: string | undefined): Error {
    if (error instanceof BackendError || error instanceof RedisReplyError) return error;
    const message = String((error as Error)?.message ?? error).replaceAll(
      this.#url,
      this.redactedUrl,
    );
    return new BackendError(`Cannot reach Redis at ${this.redactedUrl} (${what}): ${message}`);
  }
}

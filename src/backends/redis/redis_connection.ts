import { BackendError } from "../../model/errors/backend_error.ts";
import { createNodeRedisClient, type NodeRedisClientOptions } from "./node_redis_client.ts";
import { type RedisClient, RedisOfflineError, type RedisReply } from "./redis_client.ts";
import { RedisReplyError } from "./redis_reply_error.ts";
import type { RedisScript } from "./redis_script.ts";
import { redactUrl } from "./_redact_url.ts";

/** A command waiting for its reply, watched for its deadline. */
interface PendingCommand {
  client: RedisClient;
  deadline: number;
  what: string;
  reject: (error: Error) => void;
}

/** Error replies for commands the server refused without running them. */
const NOT_EXECUTED: ReadonlySet<string> = new Set(["LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN"]);

/**
 * Options of {@linkcode RedisConnection}.
 *
 * @example
 * ```ts
 * import type { RedisConnectionOptions } from "@qtasks/qtasks/redis";
 *
 * const options: RedisConnectionOptions = { url: "redis://127.0.0.1:6379", timeoutMs: 5_000 };
 * ```
 */
export interface RedisConnectionOptions {
  /** `redis://` or `rediss://` URL, with ACL user and password if any (default `redis://127.0.0.1:6379`). */
  url?: string;
  /**
   * How long a command may wait for a connection and then for its reply before it fails with a
   * {@linkcode BackendError} (default 10 000 ms). A connection that gives no reply for this long
   * is closed and opened again.
   */
  timeoutMs?: number;
  /** TLS settings for `rediss://` (a CA to trust, or whether to verify the server). */
  tls?: NodeRedisClientOptions["tls"];
  /** Makes the clients (default node-redis); for other clients and tests. */
  createClient?: (url: string) => RedisClient;
}

/**
 * One app's link to Redis, shared by its GlobalConfig, Storage and Broker: a command client
 * (connected on first use), a dedicated client for blocking waits, and one subscriber client
 * shared by every result waiter. Components acquire and release it; the last release closes it.
 *
 * Outages: the clients reconnect by themselves. A command waits up to `timeoutMs` for the
 * connection to come back, then fails with a {@linkcode BackendError} whose message names the
 * server by its redacted URL; it is never queued silently.
 *
 * @example
 * ```ts
 * import { RedisConnection } from "@qtasks/qtasks/redis";
 *
 * const connection = new RedisConnection({ url: "redis://127.0.0.1:6379" });
 * console.log(await connection.command(["PING"])); // "PONG"
 * await connection.close();
 * ```
 */
export class RedisConnection {
  /** The URL with its password hidden. */
  readonly redactedUrl: string;
  /** How long a command may wait, in ms. */
  readonly timeoutMs: number;
  #url: string;
  #create: (url: string) => RedisClient;
  #client: RedisClient | undefined;
  #connecting: Promise<RedisClient> | undefined;
  #blocking: RedisClient | undefined;
  #subscriber: Promise<RedisClient> | undefined;
  #channels = new Map<string, Set<(message: string) => void>>();
  #resync = new Set<() => void>();
  #users = 0;
  #errorListeners = new Set<(error: Error) => void>();
  /** The last error a client reported (a refused AUTH shows up here while it reconnects). */
  #lastClientError: Error | undefined;
  #readyWaits = new WeakMap<RedisClient, Promise<void>>();
  #inFlight = new Set<PendingCommand>();
  #watchdog: ReturnType<typeof setInterval> | undefined;

  /**
   * Creates a RedisConnection.
   *
   * @param options URL, timeout, TLS and client factory.
   */
  constructor(options: RedisConnectionOptions = {}) {
    this.#url = options.url ?? "redis://127.0.0.1:6379";
    if (!/^rediss?:\/\//.test(this.#url)) {
      throw new TypeError(
        `Cannot connect to ${redactUrl(this.#url)}: the URL must start with redis:// or rediss://`,
      );
    }
    // Checked here, so that a malformed URL fails at once with its password hidden (the client
    // would throw later, lazily, with the URL in clear).
    if (!URL.canParse(this.#url)) {
      throw new TypeError(`Cannot connect to ${redactUrl(this.#url)}: the URL is not valid`);
    }
    this.redactedUrl = redactUrl(this.#url);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    if (!(this.timeoutMs > 0)) throw new RangeError("RedisConnection timeoutMs must be > 0");
    const tls = options.tls;
    const connectTimeoutMs = Math.min(this.timeoutMs, 5_000);
    this.#create = options.createClient ??
      ((url) => createNodeRedisClient(url, { connectTimeoutMs, tls }));
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

  /** Sends one command, waiting up to `timeoutMs` for the connection and the reply. */
  command(args: readonly string[]): Promise<RedisReply> {
    return this.#send(args, args[0] ?? "command");
  }

  /** Runs a script by SHA, loading it with EVAL when the server does not have it. */
  async script(
    script: RedisScript,
    keys: readonly string[],
    args: readonly string[],
  ): Promise<RedisReply> {
    if (script.keyCount >= 0 && keys.length !== script.keyCount) {
      throw new TypeError(
        `Script ${script.name} takes ${script.keyCount} keys, got ${keys.length}`,
      );
    }
    const sha = await script.sha();
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.#send(["EVALSHA", sha, ...tail], script.name);
    } catch (error) {
      if (!(error instanceof RedisReplyError && error.code === "NOSCRIPT")) throw error;
    }
    return await this.#send(["EVAL", script.source, ...tail], script.name);
  }

  /**
   * Sends a blocking command (whose own timeout is `blockMs`) on the dedicated blocking client.
   * Resolves with `null` when the signal aborts (the client is closed: the only way to cancel a
   * blocking call), when the connection is closed, or when no reply came within
   * `blockMs + timeoutMs` (the connection is presumed dead and replaced).
   */
  async blocking(
    args: readonly string[],
    blockMs: number,
    signal: AbortSignal,
  ): Promise<RedisReply> {
    const replies = await this.#onBlockingClient(
      blockMs,
      signal,
      args[0],
      (client) => client.send(args).then((reply) => [reply]),
    );
    return replies ? replies[0] : null;
  }

  /**
   * Like {@linkcode RedisConnection.blocking}, with `next` sent right behind the blocking command
   * on the same connection: Redis runs it the moment the blocking command returns, in the same
   * round trip. Resolves with both replies (the second may be a {@linkcode RedisReplyError}), or
   * with `null` when aborted, closed or silent.
   */
  async blockingThen(
    args: readonly string[],
    blockMs: number,
    signal: AbortSignal,
    next: readonly string[],
  ): Promise<[RedisReply, RedisReply | RedisReplyError] | null> {
    return await this.#onBlockingClient(blockMs, signal, args[0], (client) => {
      const first = client.send(args);
      const second = client.send(next).catch((error: unknown) => {
        if (error instanceof RedisReplyError) return error;
        throw error;
      });
      second.catch(() => {}); // observed below, after the first
      return first.then(async (reply) =>
        [reply, await second] as [RedisReply, RedisReply | RedisReplyError]
      );
    });
  }

  async #onBlockingClient<T>(
    blockMs: number,
    signal: AbortSignal,
    what: string | undefined,
    send: (client: RedisClient) => Promise<T>,
  ): Promise<T | null> {
    if (signal.aborted) return null;
    let client = this.#blocking;
    if (!client) {
      const opened = await this.#open();
      // Aborted while connecting (a worker stopping, the connection closing meanwhile): nothing
      // would ever close this client. Another call may also have opened one first.
      if (signal.aborted) {
        opened.destroy();
        return null;
      }
      client = this.#blocking ??= opened;
      if (client !== opened) opened.destroy();
    }
    const drop = () => {
      if (this.#blocking === client) this.#blocking = undefined;
      client.destroy();
    };
    signal.addEventListener("abort", drop, { once: true });
    const timer = setTimeout(drop, blockMs + this.timeoutMs);
    try {
      return await send(client);
    } catch (error) {
      // Aborted, closed by close(), or replaced after a silence: a wake-up, not a failure.
      if (signal.aborted || this.#blocking !== client) return null;
      if (error instanceof RedisOfflineError) drop();
      throw this.#wrap(error, what);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", drop);
    }
  }

  /**
   * Listens on a pub/sub channel through the shared subscriber. `onResync` is called after the
   * subscriber reconnects (messages published meanwhile were missed). Returns the remover.
   */
  async subscribe(
    channel: string,
    listener: (message: string) => void,
    onResync?: () => void,
  ): Promise<() => void> {
    const subscriber = await this.#ensureSubscriber();
    let listeners = this.#channels.get(channel);
    if (!listeners) {
      const set = listeners = new Set();
      this.#channels.set(channel, set);
      try {
        await subscriber.subscribe(channel, (message) => {
          for (const fn of set) fn(message);
        });
      } catch (error) {
        this.#channels.delete(channel);
        throw this.#wrap(error, "SUBSCRIBE");
      }
    }
    const set = listeners;
    set.add(listener);
    if (onResync) this.#resync.add(onResync);
    return () => {
      set.delete(listener);
      if (onResync) this.#resync.delete(onResync);
    };
  }

  /** Closes every client. */
  async close(): Promise<void> {
    const client = this.#client ?? await this.#connecting?.catch(() => undefined);
    this.#client = undefined;
    this.#connecting = undefined;
    const blocking = this.#blocking;
    this.#blocking = undefined;
    blocking?.destroy();
    const subscriber = await this.#subscriber?.catch(() => undefined);
    this.#subscriber = undefined;
    this.#channels.clear();
    this.#resync.clear();
    await Promise.all([
      subscriber?.close().catch(() => subscriber.destroy()),
      client?.close().catch(() => client.destroy()),
    ]);
  }

  async #send(args: readonly string[], what: string): Promise<RedisReply> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const client = await this.#ready();
      if (!client.isReady() && !(await this.#waitUntilReady(client, deadline - Date.now()))) {
        throw this.#unreachable(what);
      }
      try {
        return await this.#withDeadline(client, client.send(args), deadline, what);
      } catch (error) {
        // Not sent (the connection dropped before), or refused unexecuted (LOADING after a
        // restart, BUSY script, MASTERDOWN): safe to send again until the deadline.
        const unexecuted = error instanceof RedisOfflineError ||
          (error instanceof RedisReplyError && NOT_EXECUTED.has(error.code));
        if (!unexecuted) throw this.#wrap(error, what);
        const left = deadline - Date.now();
        if (left <= 0) throw this.#unreachable(what, error);
        if (!(error instanceof RedisOfflineError)) {
          await new Promise((resolve) => setTimeout(resolve, Math.min(100, left)));
        }
      }
    }
  }

  /**
   * Resolves like `pending`, or rejects with a BackendError once `deadline` passes without a reply
   * (then the connection is presumed dead and replaced). One watchdog timer serves every command
   * in flight, instead of a timer per command.
   */
  #withDeadline<T>(
    client: RedisClient,
    pending: Promise<T>,
    deadline: number,
    what: string,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: PendingCommand = { client, deadline, what, reject };
      this.#inFlight.add(entry);
      this.#watchdog ??= setInterval(() => this.#sweep(), Math.max(10, this.timeoutMs / 4));
      pending.then((value) => {
        this.#inFlight.delete(entry);
        resolve(value);
      }, (error) => {
        this.#inFlight.delete(entry);
        reject(error);
      });
    });
  }

  /** Fails the commands past their deadline; stops the watchdog when none is in flight. */
  #sweep(): void {
    const now = Date.now();
    for (const entry of this.#inFlight) {
      if (entry.deadline > now) continue;
      this.#inFlight.delete(entry);
      if (this.#client === entry.client) {
        this.#client = undefined;
        this.#connecting = undefined;
      }
      entry.client.destroy();
      entry.reject(
        new BackendError(
          `Cannot reach Redis at ${this.redactedUrl} (${entry.what}): no reply within ${this.timeoutMs} ms`,
        ),
      );
    }
    if (this.#inFlight.size === 0 && this.#watchdog !== undefined) {
      clearInterval(this.#watchdog);
      this.#watchdog = undefined;
    }
  }

  #unreachable(what: string, last?: unknown): BackendError {
    // Redis answered but refused the credentials (the client heard it while connecting): that
    // is no outage, and the message says so.
    const refusal = /\b(WRONGPASS|NOAUTH|NOPERM)\b[^\n]*/.exec(
      this.#lastClientError?.message ?? "",
    );
    if (refusal) {
      return new BackendError(
        `Redis at ${this.redactedUrl} refused the connection: ${refusal[0]}`,
      );
    }
    const detail = last instanceof RedisReplyError ? ` (last reply: ${last.message})` : "";
    return new BackendError(
      `Cannot reach Redis at ${this.redactedUrl} (${what}): no connection for ${this.timeoutMs} ms${detail}`,
    );
  }

  #newClient(): RedisClient {
    const client = this.#create(this.#url);
    client.onError((error) => {
      this.#lastClientError = error;
      const wrapped = this.#wrap(error, "connection");
      for (const listener of this.#errorListeners) listener(wrapped);
    });
    return client;
  }

  /** A new client, connected within the timeout. */
  async #open(): Promise<RedisClient> {
    const client = this.#newClient();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.#unreachable("connect")), this.timeoutMs);
    });
    try {
      await Promise.race([client.connect(), deadline]);
      return client;
    } catch (error) {
      client.destroy();
      throw this.#wrap(error, "connect");
    } finally {
      clearTimeout(timer);
    }
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
    this.#subscriber ??= this.#open().then((client) => {
      client.onReady(() => {
        for (const resync of [...this.#resync]) resync();
      });
      return client;
    }, (error) => {
      this.#subscriber = undefined;
      throw error;
    });
    return this.#subscriber;
  }

  /** One "ready" listener per client, shared by every command waiting for it. */
  #waitUntilReady(client: RedisClient, timeoutMs: number): Promise<boolean> {
    if (client.isReady()) return Promise.resolve(true);
    if (timeoutMs <= 0) return Promise.resolve(false);
    let ready = this.#readyWaits.get(client);
    if (!ready) {
      ready = new Promise<void>((resolve) => {
        const remove = client.onReady(() => {
          remove();
          this.#readyWaits.delete(client);
          resolve();
        });
      });
      this.#readyWaits.set(client, ready);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(client.isReady()), timeoutMs);
    });
    return Promise.race([ready.then(() => true), late]).finally(() => clearTimeout(timer));
  }

  #wrap(error: unknown, what: string | undefined): Error {
    if (error instanceof BackendError || error instanceof RedisReplyError) {
      return error instanceof RedisReplyError && what === "connect"
        ? new BackendError(`Cannot connect to Redis at ${this.redactedUrl}: ${error.message}`)
        : error;
    }
    const message = String((error as Error)?.message ?? error).replaceAll(
      this.#url,
      this.redactedUrl,
    );
    return new BackendError(`Cannot reach Redis at ${this.redactedUrl} (${what}): ${message}`);
  }
}

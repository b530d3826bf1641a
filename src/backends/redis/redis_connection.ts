import { BackendError } from "../../model/errors/backend_error.ts";
import { ConfigError } from "../../model/errors/config_error.ts";
import { createNodeRedisClient, type NodeRedisClientOptions } from "./node_redis_client.ts";
import { type RedisClient, RedisOfflineError, type RedisReply } from "./redis_client.ts";
import { RedisReplyError } from "./redis_reply_error.ts";
import type { RedisScript } from "./redis_script.ts";
import { redactUrl, unencodedInUserInfo, urlSecrets } from "../../model/_redact_url.ts";
import { checkPartitions } from "./redis_keys.ts";
import { clusterUrl, isTopologyUrl, parseTopologyUrl } from "./_topology_url.ts";

/** A command waiting for its reply, watched for its deadline. */
interface PendingCommand {
  client: RedisClient;
  /** performance.now() time. */
  deadline: number;
  what: string;
  reject: (error: Error) => void;
}

/** Error replies for commands the server refused without running them. */
const NOT_EXECUTED: ReadonlySet<string> = new Set([
  "LOADING",
  "BUSY",
  "MASTERDOWN",
  "TRYAGAIN",
  // A Redis Cluster without a primary for some slot (during a failover): nothing ran.
  "CLUSTERDOWN",
]);

/** What to do about a refusal of the server, by its error code. */
const REFUSAL_HINTS: Readonly<Record<string, string>> = {
  OOM:
    "Redis is out of memory (maxmemory reached with maxmemory-policy noeviction); nothing was stored: raise maxmemory, or free memory (shorter resultTtlMs)",
  NOAUTH: "Redis requires a password: put it in the URL (redis://user:password@host:port)",
  WRONGPASS: "the user name or password in the URL is wrong",
  NOPERM:
    "the ACL user lacks a permission QTasks needs (every command on the app's keys ~{app}:* and channels)",
  READONLY: "this server is a read-only replica: use the primary's URL",
  MISCONF: "Redis cannot save to disk and refuses writes: see the server's log",
};

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
  /**
   * `redis://` or `rediss://` URL, with ACL user and password if any (default
   * `redis://127.0.0.1:6379`); `redis+cluster://h1:p1,h2:p2` for a Redis Cluster,
   * `redis+sentinel://s1:p1,s2:p2/mymaster` for a primary found through Sentinel
   * (docs/redis-cluster.md).
   */
  url?: string;
  /**
   * A Redis Cluster, instead of `url`: its seed nodes (`host:port`, or
   * `redis://user:password@host:port` whose scheme and credentials apply to every node), used
   * only to discover the cluster. The same as the URL `redis+cluster://h1:p1,h2:p2`.
   */
  cluster?: { rootNodes: readonly string[] };
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
  /**
   * Accept a server whose `maxmemory-policy` evicts keys (default `false`). An evicting policy
   * deletes task records, queues and leases when memory runs out, so tasks are lost silently:
   * by default the first connection refuses such a server with a {@linkcode ConfigError}, and
   * `noeviction` (Redis refuses writes when full, and QTasks reports it) is required.
   */
  allowEviction?: boolean;
  /**
   * Durable enqueue (off by default): each enqueue (`addTask`, `addTasks`, flows) is followed by
   * `WAIT replicas timeoutMs` on its connection, and succeeds only once that many replicas hold
   * it; otherwise it is sent again (a resend is harmless: the uuid skips what is stored) until
   * `backendTimeoutMs`, then fails with a BackendError saying it may have been stored. Redis
   * replication is asynchronous: without it, a task acknowledged just before its primary dies
   * can be lost by the failover. See docs/redis-cluster.md for what each mode promises.
   */
  durableEnqueue?: { replicas: number; timeoutMs: number };
  /**
   * Splits each app's queue into this many partitions (default 1), each under its own hash tag
   * (`{app}`, `{app:1}`, …), so that one app's enqueues, claims and settlements spread over that
   * many Redis Cluster slots, and so over as many primaries. Also `?partitions=K` in the URL.
   * Every component of an app (and every process of it) must use the same number. See
   * docs/redis-cluster.md for what is promised across partitions.
   */
  partitions?: number;
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
  /** The URL's password and secret query values, hidden in every message. */
  #secrets: string[];
  #create: (url: string) => RedisClient;
  #client: RedisClient | undefined;
  #connecting: Promise<RedisClient> | undefined;
  #blocking: RedisClient | undefined;
  /**
   * The server's `CLIENT ID` of each blocking client on a plain server (not a cluster or Sentinel
   * URL), so that an aborted wait is ended where the server is (`CLIENT UNBLOCK`), not by closing
   * the connection under a command that may already have run.
   */
  #blockingIds = new WeakMap<RedisClient, string>();
  /** The connection of durable enqueues (WAIT blocks its connection). */
  #durable: Promise<RedisClient> | undefined;
  /** Durable enqueue's settings, if on. */
  readonly durableEnqueue: { replicas: number; timeoutMs: number } | undefined;
  /** How many partitions each app's queue has (the `partitions` option or `?partitions=`). */
  readonly partitions: number;
  /** Whether this is a Redis Cluster (a command can touch only one slot). */
  readonly isCluster: boolean;
  #subscriber: Promise<RedisClient> | undefined;
  /** The subscriber client once open (see {@linkcode RedisConnection.listening}). */
  #subscriberClient: RedisClient | undefined;
  /** Channels whose SUBSCRIBE the server confirmed. */
  #confirmed = new Set<string>();
  #channels = new Map<string, Set<(message: string) => void>>();
  /** The SUBSCRIBE of each channel until the server confirms it (see `subscribe`). */
  #subscribing = new Map<string, Promise<void>>();
  #resync = new Set<() => void>();
  #users = 0;
  #errorListeners = new Set<(error: Error) => void>();
  /** The last error a client reported (a refused AUTH shows up here while it reconnects). */
  #lastClientError: Error | undefined;
  #readyWaits = new WeakMap<RedisClient, Promise<void>>();
  #allowEviction: boolean;
  /** Whether the server's eviction policy was checked (once per connection). */
  #policyChecked = false;
  #inFlight = new Set<PendingCommand>();
  /** How many times close() ran (a blocking client opened across a close is dropped). */
  #closes = 0;
  #watchdog: ReturnType<typeof setInterval> | undefined;

  /**
   * Creates a RedisConnection.
   *
   * @param options URL, timeout, TLS and client factory.
   */
  constructor(options: RedisConnectionOptions = {}) {
    if (options.cluster !== undefined) {
      if (options.url !== undefined) {
        throw new TypeError("Cannot connect to Redis: give either url or cluster, not both");
      }
      if (options.cluster.rootNodes.length === 0) {
        throw new TypeError("Cannot connect to a Redis Cluster: cluster.rootNodes is empty");
      }
    }
    this.#url = options.cluster !== undefined
      ? clusterUrl(options.cluster.rootNodes)
      : options.url ?? "redis://127.0.0.1:6379";
    const fromUrl = takePartitions(this.#url);
    this.#url = fromUrl.url;
    const partitions = options.partitions ?? fromUrl.partitions ?? 1;
    if (
      options.partitions !== undefined && fromUrl.partitions !== undefined &&
      options.partitions !== fromUrl.partitions
    ) {
      throw new TypeError(
        `Cannot connect to Redis: partitions is ${options.partitions} but the URL says ?partitions=${fromUrl.partitions}`,
      );
    }
    checkPartitions(partitions);
    this.partitions = partitions;
    this.isCluster = /^rediss?\+cluster:\/\//i.test(this.#url);
    if (!/^rediss?:\/\//.test(this.#url) && !isTopologyUrl(this.#url)) {
      throw new TypeError(
        `Cannot connect to ${
          redactUrl(this.#url)
        }: the URL must start with redis:// or rediss:// (redis+cluster:// for a Redis Cluster, redis+sentinel:// through Sentinel)`,
      );
    }
    // Checked here, so that a malformed URL fails at once with its password hidden (the client
    // would throw later, lazily, with the URL in clear).
    const unencoded = unencodedInUserInfo(this.#url);
    if (unencoded !== undefined) {
      throw new TypeError(
        `Cannot connect to ${
          redactUrl(this.#url)
        }: the user name or password contains "${unencoded}", which must be percent-encoded in a URL (${unencoded} is ${
          encodeURIComponent(unencoded)
        }; encodeURIComponent(password) does it)`,
      );
    }
    if (isTopologyUrl(this.#url)) {
      try {
        parseTopologyUrl(this.#url);
      } catch (error) {
        throw new TypeError(
          `Cannot connect to ${redactUrl(this.#url)}: ${(error as Error).message}`,
        );
      }
    } else if (!URL.canParse(this.#url)) {
      throw new TypeError(`Cannot connect to ${redactUrl(this.#url)}: the URL is not valid`);
    }
    this.redactedUrl = redactUrl(this.#url);
    this.#secrets = urlSecrets(this.#url);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    if (!(this.timeoutMs > 0)) throw new RangeError("RedisConnection timeoutMs must be > 0");
    this.#allowEviction = options.allowEviction === true;
    if (options.durableEnqueue !== undefined) {
      const { replicas, timeoutMs } = options.durableEnqueue;
      if (!(Number.isInteger(replicas) && replicas >= 1)) {
        throw new RangeError(
          `RedisConnection durableEnqueue.replicas must be an integer >= 1, got ${replicas}`,
        );
      }
      if (!(Number.isInteger(timeoutMs) && timeoutMs >= 1)) {
        throw new RangeError(
          `RedisConnection durableEnqueue.timeoutMs must be an integer >= 1, got ${timeoutMs}`,
        );
      }
      this.durableEnqueue = { replicas, timeoutMs };
    }
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
    // One array, built once (a call carries up to thousands of arguments): EVALSHA, then EVAL
    // in the same array when the server lacks the script.
    const command = scriptCommand(await script.sha(), keys, args);
    try {
      return await this.#send(command, script.name);
    } catch (error) {
      if (!(error instanceof RedisReplyError && error.code === "NOSCRIPT")) throw error;
    }
    command[0] = "EVAL";
    command[1] = script.source;
    return await this.#send(command, script.name);
  }

  /**
   * Runs a script, then `WAIT replicas timeoutMs` (the `durableEnqueue` setting) on the same
   * connection, a dedicated one (WAIT blocks its connection), and resolves with the script's
   * reply once that many replicas acknowledged its writes.
   *
   * `WAIT` covers the writes of its own connection only, so two holes are closed: (1) the
   * connection's `CLIENT ID` is read before the script and after the `WAIT` (in the same round
   * trips): a connection that changed in between (a reconnection, maybe to a promoted replica)
   * proves nothing, and the call fails as not acknowledged; (2) right before the `WAIT` it
   * writes a mark (`SET {tag}:durable 1 PX 60000`, in the slot of the script's first key), so
   * that the `WAIT` covers a point of the replication stream after this enqueue even when the
   * script wrote nothing (a resend that found its tasks stored by an earlier send, on another
   * connection): a replica that has the mark has everything the primary stored before it.
   *
   * @throws {BackendError} When fewer replicas acknowledged within the timeout, or the
   *   connection changed between the script and the `WAIT` (`sent`: the script ran on the
   *   primary; it may survive or not).
   */
  async durableScript(
    script: RedisScript,
    keys: readonly string[],
    args: readonly string[],
  ): Promise<RedisReply> {
    const durable = this.durableEnqueue;
    if (!durable) return await this.script(script, keys, args);
    const client = await this.#durableClient();
    const deadline = performance.now() + this.timeoutMs;
    const tail = [String(keys.length), ...keys, ...args];
    const run = async (command: string[]) => {
      try {
        return await this.#withDeadline(client, client.send(command), deadline, script.name);
      } catch (error) {
        if (error instanceof RedisReplyError && error.code === "NOSCRIPT") throw error;
        throw this.#wrap(error, script.name, !(error instanceof RedisOfflineError));
      }
    };
    // On the connection the script goes through (on a cluster: to the primary of its slot).
    const beside = (command: readonly string[]) =>
      client.sendBeside && keys[0] !== undefined
        ? client.sendBeside(keys[0], command)
        : client.send(command);
    const sha = await script.sha();
    // Sent right before the script, on the same connection: no round trip of its own.
    const idBefore = beside(["CLIENT", "ID"]);
    idBefore.catch(() => {});
    let reply: RedisReply;
    try {
      reply = await run(["EVALSHA", sha, ...tail]);
    } catch (error) {
      if (!(error instanceof RedisReplyError && error.code === "NOSCRIPT")) throw error;
      reply = await run(["EVAL", script.source, ...tail]);
    }
    const tag = /^\{[^}]*\}/.exec(keys[0] ?? "")?.[0] ?? "{qtasks}";
    const wait = ["WAIT", String(durable.replicas), String(durable.timeoutMs)];
    let acked: RedisReply;
    let before: RedisReply;
    let after: RedisReply;
    try {
      // Mark, WAIT and CLIENT ID in one round trip.
      const mark = beside(["SET", `${tag}:durable`, "1", "PX", "60000"]);
      const waited = beside(wait);
      const idAfter = beside(["CLIENT", "ID"]);
      mark.catch(() => {});
      idAfter.catch(() => {});
      acked = await this.#withDeadline(client, waited, deadline + durable.timeoutMs, "WAIT");
      [before, after] = await this.#withDeadline(
        client,
        Promise.all([idBefore, idAfter, mark]),
        deadline + durable.timeoutMs,
        "WAIT",
      );
    } catch (error) {
      throw this.#wrap(error, "WAIT", true);
    }
    if (String(before) !== String(after)) {
      throw new BackendError(
        `Redis at ${this.redactedUrl} ran ${script.name}, but the connection changed before its WAIT (a reconnection): its replication is not known (durableEnqueue)`,
        { sent: true },
      );
    }
    if (Number(acked) < durable.replicas) {
      throw new BackendError(
        `Redis at ${this.redactedUrl} stored ${script.name} on the primary, but only ${acked} of ${durable.replicas} replicas acknowledged it within ${durable.timeoutMs} ms (durableEnqueue)`,
        { sent: true },
      );
    }
    return reply;
  }

  #durableClient(): Promise<RedisClient> {
    this.#durable ??= this.#open().catch((error) => {
      this.#durable = undefined;
      throw error;
    });
    return this.#durable;
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
        if (error instanceof RedisReplyError && error.code === "NOSCRIPT") return error;
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
      const closes = this.#closes;
      const opened = await this.#open();
      if (!isTopologyUrl(this.#url) && !signal.aborted) {
        try {
          this.#blockingIds.set(opened, String(await opened.send(["CLIENT", "ID"])));
        } catch {
          // No id (a proxy that refuses CLIENT): an aborted wait closes the connection instead.
        }
      }
      // Aborted while connecting (a worker stopping, the connection closing meanwhile: a
      // cluster or Sentinel client takes several round trips to connect): nothing would ever
      // close this client. Another call may also have opened one first.
      if (signal.aborted || closes !== this.#closes) {
        opened.destroy();
        return null;
      }
      client = this.#blocking ??= opened;
      if (client !== opened) opened.destroy();
    }
    const blocked = client;
    const drop = () => {
      if (this.#blocking === blocked) this.#blocking = undefined;
      blocked.destroy();
    };
    // Aborted (a worker stopping): the server ends the blocking command (BZPOPMIN answers nil) and
    // runs what was pipelined behind it, whose reply comes back: a claim that rode on the wait is
    // then known to the caller, which gives its tasks back. Closing the connection instead could
    // lose that reply when the server ran the claim before it saw the close. Dropped after the
    // timeout if the unblock does not come through, or at once without an id.
    let fallback: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      const id = this.#blockingIds.get(blocked);
      if (id === undefined) return drop();
      fallback = setTimeout(drop, this.timeoutMs);
      this.command(["CLIENT", "UNBLOCK", id]).catch(drop);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(drop, blockMs + this.timeoutMs);
    try {
      return await send(blocked);
    } catch (error) {
      // Aborted, closed by close(), or replaced after a silence: a wake-up, not a failure.
      if (signal.aborted || this.#blocking !== blocked) return null;
      if (error instanceof RedisOfflineError) drop();
      throw this.#wrap(error, what);
    } finally {
      clearTimeout(timer);
      clearTimeout(fallback);
      signal.removeEventListener("abort", onAbort);
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
    // The listener is in the channel's set before the SUBSCRIBE is confirmed: the server sends
    // its first messages right behind the confirmation, and when both come in one read of the
    // socket, the client hands them over in the same turn as it settles the subscription, before
    // anything awaiting it runs. A listener added after the await would miss them.
    let set = this.#channels.get(channel);
    if (!set) {
      const listeners = set = new Set([listener]);
      this.#channels.set(channel, listeners);
      const subscribing: Promise<void> = subscriber.subscribe(channel, (message) => {
        for (const fn of listeners) fn(message);
      }).then(() => {
        this.#confirmed.add(channel);
      }, (error) => {
        if (this.#channels.get(channel) === listeners) this.#channels.delete(channel);
        throw this.#wrap(error, "SUBSCRIBE");
      }).finally(() => {
        // Only this SUBSCRIBE's entry (a close, then a new subscribe, may have replaced it).
        if (this.#subscribing.get(channel) === subscribing) this.#subscribing.delete(channel);
      });
      this.#subscribing.set(channel, subscribing);
    } else set.add(listener);
    // Every caller returns once the subscription is confirmed (or throws with its failure).
    const pending = this.#subscribing.get(channel);
    if (pending) {
      try {
        await pending;
      } catch (error) {
        set.delete(listener);
        throw error;
      }
    }
    const listeners = set;
    if (onResync) this.#resync.add(onResync);
    return () => {
      listeners.delete(listener);
      if (onResync) this.#resync.delete(onResync);
    };
  }

  /**
   * Whether the subscription to `channel` is confirmed and the subscriber is connected now: a
   * message published from now on reaches the channel's listeners, unless the subscriber loses
   * its connection (then the `onResync` callbacks of {@linkcode RedisConnection.subscribe} run
   * once it is back).
   */
  listening(channel: string): boolean {
    return this.#confirmed.has(channel) && this.#subscriberClient?.isReady() === true;
  }

  /** Closes every client. */
  async close(): Promise<void> {
    this.#closes++;
    // Nothing here waits longer than timeoutMs: a client still connecting, or closing through a
    // node that died (a cluster's primary killed), is destroyed instead.
    const within = <T>(promise: Promise<T> | undefined): Promise<T | undefined> =>
      promise === undefined ? Promise.resolve(undefined) : bounded(
        promise.catch(() => undefined),
        this.timeoutMs,
      );
    const connecting = this.#connecting;
    const client = this.#client ?? await within(connecting);
    this.#client = undefined;
    this.#connecting = undefined;
    const blocking = this.#blocking;
    this.#blocking = undefined;
    blocking?.destroy();
    const durablePending = this.#durable;
    this.#durable = undefined;
    const subscriberPending = this.#subscriber;
    this.#subscriber = undefined;
    this.#subscriberClient = undefined;
    this.#confirmed.clear();
    this.#channels.clear();
    this.#subscribing.clear();
    this.#resync.clear();
    const durable = await within(durablePending);
    durable?.destroy();
    const subscriber = await within(subscriberPending);
    // Opened after all (they were still connecting): dropped when they come.
    for (const late of [connecting, durablePending, subscriberPending]) {
      void late?.then((opened) => {
        if (opened !== client && opened !== durable && opened !== subscriber) opened.destroy();
      }, () => {});
    }
    const closeOrDestroy = async (open: RedisClient | undefined) => {
      if (!open) return;
      const closed = await bounded(open.close().then(() => true, () => false), this.timeoutMs);
      if (closed !== true) open.destroy();
    };
    await Promise.all([closeOrDestroy(subscriber), closeOrDestroy(client)]);
  }

  async #send(args: readonly string[], what: string): Promise<RedisReply> {
    // Monotonic: a wall clock stepped back or forward changes no deadline.
    const deadline = performance.now() + this.timeoutMs;
    for (;;) {
      const client = await this.#ready();
      if (
        !client.isReady() && !(await this.#waitUntilReady(client, deadline - performance.now()))
      ) {
        throw this.#unreachable(what);
      }
      try {
        return await this.#withDeadline(client, client.send(args), deadline, what);
      } catch (error) {
        // Not sent (the connection dropped before), or refused unexecuted (LOADING after a
        // restart, BUSY script, MASTERDOWN): safe to send again until the deadline.
        const unexecuted = error instanceof RedisOfflineError ||
          (error instanceof RedisReplyError && NOT_EXECUTED.has(error.code));
        if (!unexecuted) throw this.#wrap(error, what, true);
        const left = deadline - performance.now();
        if (left <= 0) throw this.#unreachable(what, error);
        // A cluster stays "ready" while one of its nodes is offline: wait before sending again.
        if (!(error instanceof RedisOfflineError) || client.isReady()) {
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
    const now = performance.now();
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
          { sent: true },
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
      const code = refusal[1];
      const hint = REFUSAL_HINTS[code];
      return new BackendError(
        `Redis at ${this.redactedUrl} refused the connection: ${this.#hide(refusal[0])}${
          hint ? ` (${hint})` : ""
        }`,
        { cause: this.#lastClientError, reply: code },
      );
    }
    // The cause of the failed connection attempts (a refused SELECT, a DNS failure, a TLS
    // handshake with a plain server…), in a sentence of ours.
    const cause = last instanceof RedisReplyError ? last : this.#lastClientError;
    let detail = cause === undefined ? "" : `; last error: ${this.#hide(describeCause(cause))}`;
    if (this.#url.startsWith("rediss:") && !(cause instanceof RedisReplyError)) {
      detail += "; a rediss:// URL needs a TLS server: is this one plain redis://?";
    }
    return new BackendError(
      `Cannot reach Redis at ${this.redactedUrl} (${what}): no connection within ${this.timeoutMs} ms${detail}`,
      { cause },
    );
  }

  /** `text` with the URL and its secrets hidden. */
  #hide(text: string): string {
    let hidden = text.replaceAll(this.#url, this.redactedUrl);
    for (const secret of this.#secrets) hidden = hidden.replaceAll(secret, "***");
    return hidden;
  }

  /** A typed error for a refusal of the server (OOM, NOAUTH, …), with what to do about it. */
  #refused(error: RedisReplyError, what: string | undefined): BackendError {
    // The server's text, without the script SHA and Lua location it may quote.
    const text = this.#hide(error.message.replace(/[.,]?\s*script: [0-9a-f]{40}[\s\S]*$/, ""));
    const hint = REFUSAL_HINTS[error.code] ??
      (/unauthenticated|NOAUTH/i.test(error.message) ? REFUSAL_HINTS.NOAUTH : undefined);
    return new BackendError(
      `Redis at ${this.redactedUrl} refused ${what ?? "the command"}: ${text}${
        hint ? ` (${hint})` : ""
      }`,
      { cause: error, reply: error.code },
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
    this.#connecting ??= this.#open().then(async (client) => {
      try {
        await this.#checkEviction(client);
      } catch (error) {
        client.destroy();
        throw error;
      }
      return this.#client = client;
    }).catch((error) => {
      this.#connecting = undefined;
      throw error;
    });
    return this.#connecting;
  }

  /**
   * Refuses a server whose maxmemory-policy evicts keys (unless `allowEviction`): one
   * `CONFIG GET` (or `INFO memory` where CONFIG is disabled) per connection.
   */
  async #checkEviction(client: RedisClient): Promise<void> {
    if (this.#allowEviction || this.#policyChecked) return;
    let policy: string | undefined;
    try {
      const reply = await client.send(["CONFIG", "GET", "maxmemory-policy"]);
      if (Array.isArray(reply) && typeof reply[1] === "string") policy = reply[1];
    } catch {
      // CONFIG is renamed or disabled on many managed servers: INFO says it too.
      try {
        const info = await client.send(["INFO", "memory"]);
        policy = /^maxmemory_policy:(\S+)/m.exec(String(info))?.[1];
      } catch { /* unknown: nothing to refuse */ }
    }
    if (policy !== undefined && policy !== "noeviction") {
      throw new ConfigError(
        "allowEviction",
        `Cannot use Redis at ${this.redactedUrl}: its maxmemory-policy is "${policy}", which deletes keys when memory runs out, so tasks, results and leases would be lost silently. Set it to noeviction (CONFIG SET maxmemory-policy noeviction, and maxmemory-policy noeviction in redis.conf), or pass redis: { allowEviction: true } to accept the risk`,
      );
    }
    this.#policyChecked = true;
  }

  #ensureSubscriber(): Promise<RedisClient> {
    this.#subscriber ??= this.#open().then((client) => {
      this.#subscriberClient = client;
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

  /**
   * A typed error for what a client threw. Error replies of the server become a BackendError
   * that says what to do (a script's own codes, `DUPLICATE_TASK` and the like, and `NOSCRIPT`
   * pass through for their callers); other failures (the connection dropped, node-redis's own
   * texts) are wrapped in a sentence of ours, `sent` when the command had been sent.
   */
  #wrap(error: unknown, what: string | undefined, sent = false): Error {
    if (error instanceof BackendError) return error;
    if (error instanceof RedisReplyError) {
      if (error.code === "NOSCRIPT" || error.code.includes("_")) return error;
      return this.#refused(error, what);
    }
    const message = this.#hide(describeCause(error));
    return new BackendError(
      sent
        ? `Cannot reach Redis at ${this.redactedUrl} (${what}): the connection failed after the command was sent (${message})`
        : `Cannot reach Redis at ${this.redactedUrl} (${what}): ${message}`,
      { cause: error, sent },
    );
  }
}

/** `EVALSHA sha numkeys ...keys ...args`, as one array built without spreads. */
function scriptCommand(sha: string, keys: readonly string[], args: readonly string[]): string[] {
  const command = ["EVALSHA", sha, String(keys.length)];
  for (let i = 0; i < keys.length; i++) command.push(keys[i]);
  for (let i = 0; i < args.length; i++) command.push(args[i]);
  return command;
}

/** `promise`'s value, or `undefined` when it takes longer than `ms`. */
function bounded<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) =>
    timer = setTimeout(() => resolve(undefined), ms)
  );
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * Takes `partitions=K` out of a URL's query (the clients do not know it).
 *
 * @throws {RangeError} When K is not an integer from 1 to 1024.
 */
function takePartitions(url: string): { url: string; partitions?: number } {
  const question = url.indexOf("?");
  if (question < 0) return { url };
  const hash = url.indexOf("#", question);
  const query = url.slice(question + 1, hash < 0 ? undefined : hash);
  let partitions: number | undefined;
  const kept = query.split("&").filter((pair) => {
    const match = /^partitions=(.*)$/.exec(pair);
    if (!match) return true;
    partitions = /^\d+$/.test(match[1]) ? Number(match[1]) : NaN;
    checkPartitions(partitions);
    return false;
  });
  if (partitions === undefined) return { url };
  const base = url.slice(0, question);
  return {
    url: (kept.length > 0 ? `${base}?${kept.join("&")}` : base) + (hash < 0 ? "" : url.slice(hash)),
    partitions,
  };
}

/** An error's message, with node-redis's bare texts put in words. */
function describeCause(error: unknown): string {
  const message = String((error as Error)?.message ?? error);
  if (/^Disconnects client$/i.test(message)) {
    return "the client was closed (node-redis: Disconnects client)";
  }
  if (/^Socket closed unexpectedly$/i.test(message)) {
    return "the server closed the connection (node-redis: Socket closed unexpectedly)";
  }
  if (/^Connection timeout$/i.test(message)) {
    return "no connection within the connect timeout (node-redis: Connection timeout)";
  }
  return message;
}

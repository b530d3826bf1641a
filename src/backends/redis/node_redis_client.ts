import { ClientOfflineError, createClient, createCluster, createSentinel, ErrorReply } from "redis";
import { type RedisClient, RedisOfflineError, type RedisReply } from "./redis_client.ts";
import { RedisReplyError } from "./redis_reply_error.ts";
import { clusterSlot } from "./_cluster_slot.ts";
import { isTopologyUrl, parseTopologyUrl, type TopologyUrl } from "./_topology_url.ts";

type NodeRedis = ReturnType<typeof createClient>;
type NodeRedisCluster = ReturnType<typeof createCluster>;
type NodeRedisSentinel = ReturnType<typeof createSentinel>;

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

/** Commands that name no key: a cluster sends them to any node (or to all, as node-redis says). */
const KEYLESS: ReadonlySet<string> = new Set([
  "PING",
  "TIME",
  "INFO",
  "CONFIG",
  "SCAN",
  "PUBLISH",
  "WAIT",
  "SCRIPT",
  "CLIENT",
  "DBSIZE",
  "CLUSTER",
  "ROLE",
  "ECHO",
]);

/**
 * The key that decides which cluster node gets a command: a script's first key, a keyed
 * command's first argument, none for the keyless ones. Every script of QTasks touches keys of
 * one slot only (one hash tag), so its first key routes it; the scripts that declare no KEYS
 * (the operations ones, which build their keys from the app's prefix) take that prefix,
 * `{app}:task:`, as ARGV[1], which routes them to the same slot.
 */
export function routingKey(args: readonly string[]): string | undefined {
  const name = (args[0] ?? "").toUpperCase();
  if (name === "EVALSHA" || name === "EVAL" || name === "EVALSHA_RO" || name === "EVAL_RO") {
    return args[3];
  }
  if (KEYLESS.has(name)) return undefined;
  return args[1];
}

/** Options of a plain client to one cluster node (auth, socket settings), without its address. */
type NodeClientOptions = Parameters<typeof createClient>[0] & {
  socket: Record<string, unknown>;
};

/**
 * The pub/sub side of a cluster client. QTasks' scripts publish only while a channel has a
 * subscriber (`PUBSUB NUMSUB`), which a cluster node answers for its own clients only: so each
 * channel is subscribed on the primary that holds the channel's slot (all of an app's channels
 * share its hash tag), where the scripts that publish on it run. Once a second it checks that
 * primary (one EXISTS routed to the slot, which also makes node-redis follow a MOVED) and moves
 * the subscriptions when the slot moved (failover, resharding), telling `onMoved` (messages may
 * have been missed meanwhile).
 */
class SlotSubscribers {
  #cluster: NodeRedisCluster;
  #options: NodeClientOptions;
  #onMoved: () => void;
  #onError: (error: Error) => void;
  #bySlot = new Map<
    number,
    { address: string; client: NodeRedis; channels: Map<string, (message: string) => void> }
  >();
  #timer: ReturnType<typeof setInterval> | undefined;
  #checking = false;

  constructor(
    cluster: NodeRedisCluster,
    options: NodeClientOptions,
    onMoved: () => void,
    onError: (error: Error) => void,
  ) {
    this.#cluster = cluster;
    this.#options = options;
    this.#onMoved = onMoved;
    this.#onError = onError;
  }

  #primaryOf(slot: number): { host: string; port: number; address: string } | undefined {
    const master = (this.#cluster.slots as Array<
      { master: { host: string; port: number; address: string } } | undefined
    >)[slot]?.master;
    return master;
  }

  async #connect(slot: number): Promise<{ address: string; client: NodeRedis }> {
    const master = this.#primaryOf(slot);
    if (!master) throw new RedisOfflineError();
    const client = createClient(
      {
        ...this.#options,
        socket: { ...this.#options.socket, host: master.host, port: master.port },
      } as Parameters<typeof createClient>[0],
    ) as NodeRedis;
    client.on("error", (error: Error) => this.#onError(error));
    client.on("ready", () => this.#onMoved());
    await client.connect();
    return { address: master.address, client };
  }

  async subscribe(channel: string, listener: (message: string) => void): Promise<void> {
    const slot = clusterSlot(channel);
    let entry = this.#bySlot.get(slot);
    if (!entry) {
      const connected = await this.#connect(slot);
      entry = this.#bySlot.get(slot);
      if (entry) connected.client.destroy();
      else this.#bySlot.set(slot, entry = { ...connected, channels: new Map() });
    }
    entry.channels.set(channel, listener);
    await entry.client.subscribe(channel, (message: string) => listener(message));
    this.#timer ??= setInterval(() => void this.#check(), 1_000);
  }

  async unsubscribe(channel: string): Promise<void> {
    const entry = this.#bySlot.get(clusterSlot(channel));
    if (!entry || !entry.channels.delete(channel)) return;
    await entry.client.unsubscribe(channel);
  }

  /** Moves the subscriptions of every slot whose primary changed. */
  async #check(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      for (const [slot, entry] of this.#bySlot) {
        const [channel] = entry.channels.keys();
        if (channel === undefined) continue;
        // Routed to the slot: a MOVED makes node-redis read the new topology.
        await this.#cluster.sendCommand(channel, true, ["EXISTS", channel]).catch(() => {});
        const master = this.#primaryOf(slot);
        if (!master || master.address === entry.address) continue;
        const moved = await this.#connect(slot).catch(() => undefined);
        if (!moved || this.#bySlot.get(slot) !== entry) {
          moved?.client.destroy();
          continue;
        }
        for (const [name, listener] of entry.channels) {
          await moved.client.subscribe(name, (message: string) => listener(message));
        }
        this.#bySlot.set(slot, { ...moved, channels: entry.channels });
        entry.client.destroy();
        this.#onMoved();
      }
    } finally {
      this.#checking = false;
    }
  }

  close(): Promise<unknown> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const clients = [...this.#bySlot.values()].map((entry) => entry.client);
    this.#bySlot.clear();
    return Promise.all(clients.map((client) => client.isOpen ? client.close() : undefined));
  }

  destroy(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const { client } of this.#bySlot.values()) if (client.isOpen) client.destroy();
    this.#bySlot.clear();
  }
}

function wrapCluster(cluster: NodeRedisCluster, nodeOptions: NodeClientOptions): RedisClient {
  const readyListeners = new Set<() => void>();
  const errorListeners = new Set<(error: Error) => void>();
  let subscribers: SlotSubscribers | undefined;
  const pubSub = () =>
    subscribers ??= new SlotSubscribers(
      cluster,
      nodeOptions,
      () => {
        for (const listener of [...readyListeners]) listener();
      },
      (error) => {
        for (const listener of errorListeners) listener(error);
      },
    );
  return {
    connect: async () => {
      try {
        await cluster.connect();
      } catch (error) {
        throw mapError(error);
      }
    },
    isReady: () => cluster.isReady,
    onReady: (listener) => {
      // Any node (re)connected, or the subscriptions moved to another primary.
      readyListeners.add(listener);
      cluster.on("node-ready", listener);
      return () => {
        readyListeners.delete(listener);
        cluster.off("node-ready", listener);
      };
    },
    send: (args) =>
      (cluster.sendCommand(routingKey(args), false, [...args]) as Promise<RedisReply>).catch(
        (error: unknown) => {
          throw mapError(error);
        },
      ),
    sendBeside: async (key, args) => {
      try {
        // node-redis keeps one connection per node: the one the commands on `key` went through.
        const master = (cluster.slots as Array<{ master: unknown } | undefined>)[clusterSlot(key)]
          ?.master;
        if (!master) throw new RedisOfflineError();
        const node = await cluster.nodeClient(master as Parameters<typeof cluster.nodeClient>[0]);
        return await (node.sendCommand([...args]) as Promise<RedisReply>);
      } catch (error) {
        throw mapError(error);
      }
    },
    duplicate: () => wrapCluster(cluster.duplicate(), nodeOptions),
    subscribe: async (channel, listener) => {
      try {
        await pubSub().subscribe(channel, listener);
      } catch (error) {
        throw mapError(error);
      }
    },
    unsubscribe: async (channel) => {
      await subscribers?.unsubscribe(channel);
    },
    close: async () => {
      await subscribers?.close();
      if (cluster.isOpen) await cluster.close();
    },
    destroy: () => {
      subscribers?.destroy();
      if (cluster.isOpen) void Promise.resolve(cluster.destroy()).catch(() => {});
    },
    onError: (listener) => {
      errorListeners.add(listener);
      cluster.on("error", listener);
      cluster.on("node-error", listener);
    },
  };
}

function wrapSentinel(sentinel: NodeRedisSentinel): RedisClient {
  // node-redis's Sentinel client sends a command again after its connection closed (it takes
  // that for a failover): destroy() must still fail the pending ones at once (it is how a
  // blocking wait is cancelled).
  let destroyed: (error: Error) => void = () => {};
  const whenDestroyed = new Promise<never>((_, reject) => destroyed = reject);
  whenDestroyed.catch(() => {});
  return {
    connect: async () => {
      try {
        await sentinel.connect();
      } catch (error) {
        throw mapError(error);
      }
    },
    isReady: () => sentinel.isReady,
    onReady: (listener) => {
      sentinel.on("ready", listener);
      return () => void sentinel.off("ready", listener);
    },
    send: (args) =>
      Promise.race([sentinel.sendCommand(false, [...args]) as Promise<RedisReply>, whenDestroyed])
        .catch((error: unknown) => {
          throw mapError(error);
        }),
    duplicate: () => wrapSentinel(sentinel.duplicate()),
    subscribe: async (channel, listener) => {
      await sentinel.subscribe(channel, (message: string) => listener(message));
    },
    unsubscribe: async (channel) => {
      await sentinel.unsubscribe(channel);
    },
    close: async () => {
      if (sentinel.isOpen) await sentinel.close();
    },
    destroy: () => {
      destroyed(new Error("Disconnects client"));
      if (sentinel.isOpen) void Promise.resolve(sentinel.destroy()).catch(() => {});
    },
    onError: (listener) => {
      sentinel.on(
        "error",
        (error: unknown) => listener(error instanceof Error ? error : new Error(String(error))),
      );
    },
  };
}

function socketOptions(options: NodeRedisClientOptions, tls: boolean) {
  return {
    connectTimeout: options.connectTimeoutMs ?? 5_000,
    reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 10), 2_000),
    ...(tls ? { tls: true as const } : {}),
    ...(options.tls?.ca !== undefined ? { ca: options.tls.ca } : {}),
    ...(options.tls?.rejectUnauthorized !== undefined
      ? { rejectUnauthorized: options.tls.rejectUnauthorized }
      : {}),
  };
}

function createTopologyClient(topology: TopologyUrl, options: NodeRedisClientOptions): RedisClient {
  const auth = {
    ...(topology.username !== undefined ? { username: topology.username } : {}),
    ...(topology.password !== undefined ? { password: topology.password } : {}),
  };
  if (topology.kind === "cluster") {
    const defaults: NodeClientOptions = {
      ...auth,
      RESP: 2,
      disableOfflineQueue: true,
      socket: socketOptions(options, topology.tls),
    };
    const cluster = createCluster(
      {
        rootNodes: topology.nodes.map(({ host, port }) => ({
          socket: { host, port, ...socketOptions(options, topology.tls) },
        })),
        // Applied to every node's connection: credentials and TLS must be here.
        defaults,
        RESP: 2,
        // A node that stopped answering: ask the others for the new topology after 1 s.
        topologyRefreshOnReconnectionAttemptStrategy: 1_000,
      } as Parameters<typeof createCluster>[0],
    );
    return wrapCluster(cluster as NodeRedisCluster, defaults);
  }
  const sentinel = createSentinel(
    {
      name: topology.masterName!,
      sentinelRootNodes: topology.nodes,
      nodeClientOptions: {
        ...auth,
        RESP: 2,
        disableOfflineQueue: true,
        ...(topology.database !== 0 ? { database: topology.database } : {}),
        socket: socketOptions(options, topology.tls),
      },
      sentinelClientOptions: {
        ...(topology.sentinelPassword !== undefined ? { password: topology.sentinelPassword } : {}),
        socket: socketOptions(options, topology.tls),
      },
      RESP: 2,
      scanInterval: 1_000,
    } as Parameters<typeof createSentinel>[0],
  );
  return wrapSentinel(sentinel as NodeRedisSentinel);
}

/**
 * Creates the default {@linkcode RedisClient}, on node-redis. `redis://` and `rediss://` (TLS)
 * URLs with ACL user and password are supported; it reconnects with backoff (50 ms doubling to
 * 2 s) by itself, and does not queue commands while offline. A `redis+cluster://h1:p1,h2:p2`
 * URL gives a Redis Cluster client (node-redis `createCluster`: it follows MOVED/ASK and
 * topology changes), a `redis+sentinel://s1:p1,s2:p2/mymaster` URL a client of the primary that
 * these Sentinels name (node-redis `createSentinel`: it follows a failover); see
 * docs/redis-cluster.md.
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
  if (isTopologyUrl(url)) return createTopologyClient(parseTopologyUrl(url), options);
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

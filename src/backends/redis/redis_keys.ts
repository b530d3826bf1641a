import { DEFAULT_QUEUE } from "../../model/queue_name.ts";
import { crc16 } from "./_cluster_slot.ts";

/**
 * The Redis keys of one app. Every key starts with the hash tag `{name}` so that all of an app's
 * keys live in one Redis Cluster slot (its Lua scripts touch several keys at once). The layout
 * is documented in docs/architecture.md.
 *
 * @example
 * ```ts
 * import { redisKeys } from "@qtasks/qtasks/redis";
 *
 * const keys = redisKeys("shop");
 * console.log(keys.queue); // "{shop}:queue"
 * console.log(keys.task("6f1c")); // "{shop}:task:6f1c"
 * ```
 */
export interface RedisKeys {
  /** Prefix of every key: `{name}:`. */
  readonly prefix: string;
  /** Prefix of task record hashes: `{name}:task:`. */
  readonly taskPrefix: string;
  /** ZSET of queued tasks: score priority, member `seq:uuid` (FIFO within a priority). */
  readonly queue: string;
  /** SET of the named queues' names that tasks were sent to (the operator's listings read them). */
  readonly queueNames: string;
  /**
   * The ZSET of a queue: `{name}:queue` for the default one, `{name}:queue:<queue>` for a named
   * one (same layout).
   */
  queueOf(queue: string): string;
  /** The wake-up marker of a queue: `{name}:marker`, `{name}:marker:<queue>` for a named one. */
  markerOf(queue: string): string;
  /** ZSET like the queue, of tasks recovered from a dead worker: each runs alone. */
  readonly quarantine: string;
  /**
   * ZSET of tasks not yet due (delayed tasks, retries): score due time (ms, Redis server time),
   * member `seq:uuid` as in the queue.
   */
  readonly scheduled: string;
  /** ZSET of claimed tasks: score lease deadline (ms), member `uuid|workerId|deliveries`. */
  readonly leases: string;
  /** ZSET holding one member while tasks may be waiting: what idle workers block on. */
  readonly marker: string;
  /** STRING counter giving each enqueued task its sequence number. */
  readonly seq: string;
  /** Pub/sub channel: `<uuid> <status>` on each status change. */
  readonly events: string;
  /** Pub/sub channel to the workers: `cancel <uuid> <reason>`. */
  readonly control: string;
  /** ZSET of live GlobalConfig instances: score heartbeat expiry (ms), member instance id. */
  readonly heartbeats: string;
  /** ZSET of live workers (stats): score record expiry (ms), member worker id. */
  readonly statsWorkers: string;
  /** Prefix of a worker's stats record HASH: `{name}:stats:worker:` + worker id. */
  readonly statsWorkerPrefix: string;
  /** HASH of the app's task counters: `processed`, `failed`. */
  readonly statsTotals: string;
  /** Prefix of a throughput bucket HASH: `{name}:stats:bucket:` + its start (unix seconds). */
  readonly statsBucketPrefix: string;
  /** HASH of one task. */
  task(uuid: string): string;
  /** STRING held while `key` is claimed (`globalConfig.claimOnce`). */
  claim(key: string): string;
  /** HASH of one GlobalConfig group (`main` holds the QTasks status). */
  globalConfig(group: string): string;
}

/**
 * Builds the key layout of app `name`.
 *
 * @param name The app name (no braces).
 * @returns Its keys.
 *
 * @example
 * ```ts
 * import { redisKeys } from "@qtasks/qtasks/redis";
 *
 * console.log(redisKeys("QueueTasks").globalConfig("main")); // "{QueueTasks}:GlobalConfig:main"
 * ```
 */
export function redisKeys(name: string): RedisKeys {
  if (/[{}]/.test(name)) {
    throw new TypeError(`Cannot use app name "${name}" with Redis: it must not contain braces`);
  }
  const prefix = `{${name}}:`;
  const taskPrefix = `${prefix}task:`;
  return Object.freeze({
    prefix,
    taskPrefix,
    queue: `${prefix}queue`,
    quarantine: `${prefix}quarantine`,
    queueNames: `${prefix}queues`,
    queueOf: (queue: string) =>
      queue === DEFAULT_QUEUE ? `${prefix}queue` : `${prefix}queue:${queue}`,
    markerOf: (queue: string) =>
      queue === DEFAULT_QUEUE ? `${prefix}marker` : `${prefix}marker:${queue}`,
    scheduled: `${prefix}scheduled`,
    leases: `${prefix}leases`,
    marker: `${prefix}marker`,
    seq: `${prefix}seq`,
    events: `${prefix}events`,
    control: `${prefix}control`,
    heartbeats: `${prefix}GlobalConfig:heartbeats`,
    statsWorkers: `${prefix}stats:workers`,
    statsWorkerPrefix: `${prefix}stats:worker:`,
    statsTotals: `${prefix}stats:totals`,
    statsBucketPrefix: `${prefix}stats:bucket:`,
    claim: (key: string) => `${prefix}claim:${key}`,
    task: (uuid: string) => taskPrefix + uuid,
    globalConfig: (group: string) => `${prefix}GlobalConfig:${group}`,
  });
}

/** The most partitions an app may have (`redis: { partitions }`). */
export const MAX_PARTITIONS = 1024;

/**
 * The key layouts of an app split into `count` partitions (`redis: { partitions }`, see
 * docs/redis-cluster.md): partition 0 is the app's usual layout (`{name}:`, so one partition is
 * exactly the unpartitioned layout), partition `p` > 0 has the hash tag `{name:p}`. Each
 * partition is a queue of its own, with its own records, leases, schedule and indexes, in its
 * own Redis Cluster slot.
 *
 * @param name The app name (no braces).
 * @param count How many partitions, 1 to 1024.
 * @returns One layout per partition, partition 0 first.
 * @throws {TypeError} When `name` has braces; {RangeError} when `count` is not an integer 1–1024.
 *
 * @example
 * ```ts
 * import { partitionKeys } from "@qtasks/qtasks/redis";
 *
 * console.log(partitionKeys("shop", 3).map((keys) => keys.queue));
 * // ["{shop}:queue", "{shop:1}:queue", "{shop:2}:queue"]
 * ```
 */
export function partitionKeys(name: string, count: number): RedisKeys[] {
  checkPartitions(count);
  return Array.from({ length: count }, (_, p) => redisKeys(p === 0 ? name : `${name}:${p}`));
}

/**
 * Checks a partition count.
 *
 * @throws {RangeError} When it is not an integer from 1 to 1024.
 */
export function checkPartitions(count: number): void {
  if (!(Number.isInteger(count) && count >= 1 && count <= MAX_PARTITIONS)) {
    throw new RangeError(
      `Redis partitions must be an integer from 1 to ${MAX_PARTITIONS}, got ${count}`,
    );
  }
}

/**
 * The partition a task goes to, and where its record is looked for first: the CRC16 of its
 * uuid modulo `count` (0 when `count` is 1). Tasks created inside a partition (a retry's next
 * attempt, a chain's steps) stay in their parent's partition, whatever their own uuid says:
 * readers look there next (see {@linkcode RedisStorage.get}).
 *
 * @param uuid The task's uuid.
 * @param count How many partitions.
 * @returns Its partition, 0 to `count - 1`.
 *
 * @example
 * ```ts
 * import { partitionOf } from "@qtasks/qtasks/redis";
 *
 * console.log(partitionOf("6f1c", 1)); // 0
 * ```
 */
export function partitionOf(uuid: string, count: number): number {
  if (count <= 1) return 0;
  return crc16(new TextEncoder().encode(uuid)) % count;
}

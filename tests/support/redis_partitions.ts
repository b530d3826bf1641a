/**
 * The Redis test suites on a partitioned app: `QTASKS_TEST_REDIS_URL=redis://…?partitions=3`
 * runs them with each app split into 3 partitions (docs/redis-cluster.md).
 *
 * @module
 */
import { partitionOf } from "../../src/backends/redis/mod.ts";

/** How many partitions a test URL asks for (`?partitions=K`, default 1). */
export function partitionsOf(url: string): number {
  return Number(/[?&]partitions=(\d+)/.exec(url)?.[1] ?? 1);
}

/**
 * A maker of uuids that all fall in partition 0 of `count` partitions (any uuid when 1): for
 * the tests of orders that a partitioned app promises within one partition.
 */
export function partition0Uuids(count: number): () => string {
  return () => {
    for (;;) {
      const uuid = crypto.randomUUID();
      if (partitionOf(uuid, count) === 0) return uuid;
    }
  };
}

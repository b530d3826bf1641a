/**
 * The operations contract (tests/contract/operations_contract.ts) run against the Redis backend.
 * Needs Redis at redis://127.0.0.1:6379, or at QTASKS_TEST_REDIS_URL.
 *
 * @module
 */
import process from "node:process";
import { RedisBroker } from "../../src/backends/redis/mod.ts";
import { partition0Uuids, partitionsOf } from "../support/redis_partitions.ts";
import { operationsContract } from "./operations_contract.ts";

const url = process.env.QTASKS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

const partitions = partitionsOf(url);
operationsContract(
  partitions > 1 ? `RedisBroker (${partitions} partitions)` : "RedisBroker",
  (name) => new RedisBroker({ name, url }),
  // A partitioned app promises its orders within one partition (docs/redis-cluster.md).
  { uuid: partition0Uuids(partitions) },
);

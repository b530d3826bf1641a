/**
 * The deduplication contract, run against the Redis backend (at QTASKS_TEST_REDIS_URL, else
 * redis://127.0.0.1:6379; `?partitions=K` runs it on a partitioned app); the race runs on two
 * brokers, each with its own connection.
 *
 * @module
 */
import process from "node:process";
import { RedisBroker } from "../../src/backends/redis/mod.ts";
import { partitionsOf } from "../support/redis_partitions.ts";
import { deduplicationContract } from "./deduplication_contract.ts";

const url = process.env.QTASKS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

const partitions = partitionsOf(url);
deduplicationContract(
  partitions > 1 ? `RedisBroker (${partitions} partitions)` : "RedisBroker",
  (name) => new RedisBroker({ name, url }),
  { secondProducer: (name) => new RedisBroker({ name, url }) },
);

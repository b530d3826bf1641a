/**
 * The operations contract (tests/contract/operations_contract.ts) run against the Redis backend.
 * Needs Redis at redis://127.0.0.1:6379, or at QTASKS_TEST_REDIS_URL.
 *
 * @module
 */
import process from "node:process";
import { RedisBroker } from "../../src/backends/redis/mod.ts";
import { operationsContract } from "./operations_contract.ts";

const url = process.env.QTASKS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

operationsContract("RedisBroker", (name) => new RedisBroker({ name, url }));

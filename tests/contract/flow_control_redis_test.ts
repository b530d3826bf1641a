/**
 * The flow-control contract, run against the Redis backend (at QTASKS_TEST_REDIS_URL, else
 * redis://127.0.0.1:6379).
 *
 * @module
 */
import process from "node:process";
import { RedisBroker } from "../../src/backends/redis/mod.ts";
import { flowControlContract } from "./flow_control_contract.ts";

const url = process.env.QTASKS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

flowControlContract("RedisBroker", (name) => new RedisBroker({ name, url }));

/**
 * The broker_*, storage_* and global_config_* triggers on the Redis backend. Needs Redis at
 * redis://127.0.0.1:6379, or at QTASKS_TEST_REDIS_URL.
 *
 * @module
 */
import { RedisBroker } from "../../src/backends/redis/mod.ts";
import { testRedisUrl } from "../support/deferred.ts";
import { componentTriggers } from "./component_triggers.ts";

const url = testRedisUrl();

componentTriggers("redis", (name) => new RedisBroker({ name, url }), { periodicHeartbeat: true });

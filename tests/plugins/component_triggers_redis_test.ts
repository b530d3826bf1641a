/**
 * The broker_*, storage_* and global_config_* triggers on the Redis backend. Needs Redis at
 * redis://127.0.0.1:6379, or at QTASKS_TEST_REDIS_URL.
 *
 * @module
 */
import { RedisBroker } from "../../src/backends/redis/mod.ts";
import { testRedisUrl } from "../support/deferred.ts";
import { triggeredBroker } from "../../src/engine/triggers/triggered_broker.ts";
import { componentTriggers } from "./component_triggers.ts";

const url = testRedisUrl();

// The trigger decorator the app puts on every broker (the tests also start it directly).
componentTriggers("redis", (name) => triggeredBroker(new RedisBroker({ name, url })), {
  periodicHeartbeat: true,
});

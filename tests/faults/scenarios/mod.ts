/**
 * The fault scenarios, in the order the runner runs them (their ids are the `--only` numbers).
 *
 * @module
 */
import type { Scenario } from "../scenario.ts";
import { crashingTaskScenario } from "./crashing_task.ts";
import { evictingRedisScenario } from "./evicting_redis.ts";
import { killWorkersScenario } from "./kill_workers.ts";
import { leasesDeletedScenario } from "./leases_deleted.ts";
import { poisonScenario } from "./poison_input.ts";
import { redisFreezeScenario } from "./redis_freeze.ts";
import { redisRestartScenario } from "./redis_restart.ts";
import { sigtermScenario } from "./sigterm_under_load.ts";

/** Every scenario. */
export const SCENARIOS: readonly Scenario[] = [
  killWorkersScenario,
  redisRestartScenario,
  redisFreezeScenario,
  sigtermScenario,
  poisonScenario,
  crashingTaskScenario,
  evictingRedisScenario,
  leasesDeletedScenario,
];

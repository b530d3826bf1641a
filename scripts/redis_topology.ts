/**
 * Starts or stops the local Redis Cluster (3 primaries, 3 replicas) and Sentinel setup (one
 * primary, one replica, three Sentinels) that the `cluster` part of scripts/test.sh runs the
 * contract suites against. The servers are daemonized, so they outlive this script:
 *
 *   deno run -A scripts/redis_topology.ts up STATE_FILE    # prints the two URLs, writes STATE_FILE
 *   deno run -A scripts/redis_topology.ts down STATE_FILE  # kills them, removes their folders
 *
 * `up` prints `cluster redis+cluster://…` and `sentinel redis+sentinel://…` lines. The ports
 * are the first free ones from `QTASKS_TOPOLOGY_PORT_BASE` (default 7100; the Sentinel setup
 * from 50 above): give each concurrent run on one machine its own base.
 *
 * @module
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import process from "node:process";
import {
  type RedisTopology,
  startCluster,
  startSentinel,
  stopTopology,
} from "../tests/support/redis_topology.ts";

const [command, stateFile] = process.argv.slice(2);
if ((command !== "up" && command !== "down") || !stateFile) {
  console.error("usage: deno run -A scripts/redis_topology.ts up|down STATE_FILE");
  process.exit(2);
}
if (command === "up") {
  const started: RedisTopology[] = [];
  try {
    started.push(await startCluster());
    started.push(await startSentinel());
  } catch (error) {
    for (const topology of started) stopTopology(topology);
    console.error(`redis_topology: ${(error as Error).message}`);
    process.exit(1);
  }
  writeFileSync(stateFile, JSON.stringify(started));
  for (const topology of started) console.log(`${topology.kind} ${topology.url}`);
} else {
  const topologies = JSON.parse(readFileSync(stateFile, "utf8")) as RedisTopology[];
  for (const topology of topologies) stopTopology(topology);
  rmSync(stateFile, { force: true });
  console.log(`redis_topology: stopped ${topologies.length} deployments`);
}

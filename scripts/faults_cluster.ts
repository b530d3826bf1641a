/**
 * The failover part of the fault suite (GitHub issue 21): tasks enqueued and processed while a
 * Redis primary dies (kill -9; its replica is promoted), with durable enqueue off and on, on a
 * local Redis Cluster (3 primaries, 3 replicas) and on a Sentinel setup (1 primary, 1 replica,
 * 3 Sentinels), and while the app's slot migrates to another primary (`redis-cli --cluster
 * reshard`). Each scenario starts its own servers (tests/support/redis_topology.ts) and stops
 * them.
 *
 *   deno run -A scripts/faults_cluster.ts [--seconds S] [--only N[,M]]
 *
 * One row per scenario: tasks acknowledged by addTask, rejected at enqueue (the producer was
 * told), lost (acknowledged, then gone: never run and no record), duplicated (run more than
 * once), stuck (acknowledged, record there, never finished within 30 s after the fault), and
 * the seconds the producer saw errors. Exits 1 when a durable scenario lost a task.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import process from "node:process";
import { createLogger, QueueTasks } from "../mod.ts";
import {
  clusterPrimaryOf,
  killNode,
  type RedisTopology,
  startCluster,
  startSentinel,
  stopTopology,
} from "../tests/support/redis_topology.ts";

interface Row {
  id: number;
  name: string;
  acked: number;
  rejected: number;
  lost: number;
  duplicated: number;
  stuck: number;
  errorSeconds: number;
}

type Fault = (topology: RedisTopology, app: string) => void;

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf("--seconds") + 1] ?? 8) || 8;
const only = args.includes("--only")
  ? args[args.indexOf("--only") + 1].split(",").map(Number)
  : undefined;

const killClusterPrimary: Fault = (topology, app) => {
  const port = clusterPrimaryOf(topology, `{${app}}:queue`);
  killNode(topology.nodes.find((node) => node.port === port)!);
};
const killSentinelPrimary: Fault = (topology) => killNode(topology.nodes[0]);
const reshard: Fault = (topology, app) => {
  const from = clusterPrimaryOf(topology, `{${app}}:queue`);
  const ids = spawnSync("redis-cli", ["-p", String(from), "CLUSTER", "NODES"], {
    encoding: "utf8",
  }).stdout.trim().split("\n").map((line) => line.split(" "));
  const source = ids.find((fields) => fields[2].includes("myself"))![0];
  const target =
    ids.find((fields) => fields[2].includes("master") && !fields[2].includes("myself"))![0];
  // Moves every slot of the app's primary (the app's among them) to another primary, under load.
  const child = spawnSync("redis-cli", [
    "--cluster",
    "reshard",
    `127.0.0.1:${from}`,
    "--cluster-from",
    source,
    "--cluster-to",
    target,
    "--cluster-slots",
    "16384",
    "--cluster-yes",
    "--cluster-pipeline",
    "100",
  ], { encoding: "utf8" });
  if (child.status !== 0) throw new Error(`reshard failed: ${child.stderr}${child.stdout}`);
};

const SCENARIOS: Array<{
  id: number;
  name: string;
  start: () => Promise<RedisTopology>;
  durable: boolean;
  fault: Fault;
}> = [
  {
    id: 1,
    name: "cluster: kill -9 of the app's primary",
    start: startCluster,
    durable: false,
    fault: killClusterPrimary,
  },
  {
    id: 2,
    name: "cluster: kill -9 of the app's primary, durable enqueue",
    start: startCluster,
    durable: true,
    fault: killClusterPrimary,
  },
  {
    id: 3,
    name: "cluster: the app's slots resharded to another primary",
    start: startCluster,
    durable: false,
    fault: reshard,
  },
  {
    id: 4,
    name: "sentinel: kill -9 of the primary (failover)",
    start: startSentinel,
    durable: false,
    fault: killSentinelPrimary,
  },
  {
    id: 5,
    name: "sentinel: kill -9 of the primary (failover), durable enqueue",
    start: startSentinel,
    durable: true,
    fault: killSentinelPrimary,
  },
];

/** With VERBOSE=1: when each phase of a scenario ends. */
function phase(text: string): void {
  if (process.env.VERBOSE) console.error(`${new Date().toISOString()} ${text}`);
}

async function runScenario(scenario: (typeof SCENARIOS)[number]): Promise<Row> {
  const topology = await scenario.start();
  const name = `faults-${scenario.id}`;
  const runs = new Map<string, number>();
  const app = new QueueTasks({
    name,
    brokerUrl: topology.url,
    redis: scenario.durable ? { durableEnqueue: { replicas: 1, timeoutMs: 1_000 } } : {},
    // Longer than a failover (detection, election, topology refresh): commands wait it out.
    config: { backendTimeoutMs: 15_000 },
    logger: createLogger("error"),
  });
  app.task("t", (id: string) => {
    runs.set(id, (runs.get(id) ?? 0) + 1);
  });
  const acked: Array<{ id: string; uuid: string }> = [];
  let rejected = 0;
  const errorSeconds = new Set<number>();
  let started = performance.now();
  try {
    await app.start();
    started = performance.now();
    const end = started + seconds * 1000;
    let faulted = false;
    let next = 0;
    while (performance.now() < end) {
      if (!faulted && performance.now() > started + 2_000) {
        faulted = true;
        // The fault runs beside the load (reshard takes a while): not awaited here.
        setTimeout(() => scenario.fault(topology, name), 0);
      }
      const batch = Array.from({ length: 20 }, () => String(next++));
      await Promise.all(batch.map(async (id) => {
        const uuid = crypto.randomUUID();
        try {
          await app.addTask("t", [id], { uuid });
          acked.push({ id, uuid });
        } catch (error) {
          if (rejected++ === 0 && process.env.VERBOSE) console.error(error);
          errorSeconds.add(Math.floor((performance.now() - started) / 1000));
        }
      }));
    }
    phase("load done");
    const deadline = performance.now() + 30_000;
    while (acked.some(({ id }) => !runs.has(id)) && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    phase("waited for the runs");
    let lost = 0;
    let stuck = 0;
    for (const { id, uuid } of acked) {
      if (runs.has(id)) continue;
      // Never run: its record still there (stuck) or gone with the dead primary (lost).
      if (await app.get(uuid)) stuck++;
      else lost++;
    }
    phase("counted");
    const duplicated = [...runs.values()].filter((count) => count > 1).length;
    return {
      id: scenario.id,
      name: scenario.name,
      acked: acked.length,
      rejected,
      lost,
      duplicated,
      stuck,
      errorSeconds: errorSeconds.size,
    };
  } finally {
    await app.flushAll().catch(() => {});
    phase("flushed");
    await app.stop().catch(() => {});
    phase("stopped");
    stopTopology(topology);
  }
}

const rows: Row[] = [];
console.log(
  `faults_cluster: ${new Date().toISOString()}, ${seconds} s of load per scenario, shared machine`,
);
console.log(
  "| # | scenario | acked | rejected at enqueue | lost | duplicated | stuck | s with errors |",
);
console.log(
  "| - | -------- | ----- | ------------------- | ---- | ---------- | ----- | ------------- |",
);
let failed = false;
for (const scenario of SCENARIOS) {
  if (only && !only.includes(scenario.id)) continue;
  try {
    const row = await runScenario(scenario);
    rows.push(row);
    if (scenario.durable && row.lost > 0) failed = true;
    console.log(
      `| ${row.id} | ${row.name} | ${row.acked} | ${row.rejected} | ${row.lost} | ${row.duplicated} | ${row.stuck} | ${row.errorSeconds} |`,
    );
  } catch (error) {
    failed = true;
    console.log(`| ${scenario.id} | ${scenario.name} | FAILED: ${(error as Error).message} |`);
  }
}
process.exit(failed ? 1 : 0);

/**
 * The partition benchmark (GitHub issue 21, "Measured"): one app on a local Redis Cluster (3
 * primaries, 3 replicas, started here and stopped afterwards), processed by several worker
 * processes at a total concurrency of 100, with its queue in 1 partition and then in 3
 * (`?partitions=K`). Prints the throughput and the Redis CPU each primary spent (`INFO cpu`,
 * user + sys, before and after the processing): with 3 partitions each primary should carry
 * about a third.
 *
 *   deno run -A scripts/bench_partitions.ts [--n 20000] [--workers 3] [--concurrency 100]
 *     [--partitions 1,3]
 *
 * The app name is picked so that its partitions' slots sit on different primaries (printed: `*`
 * marks a primary that holds one). The tasks are enqueued while the app is paused (untimed), the workers started and connected,
 * then the app is resumed: the time runs from the resume until every task succeeded. Ports: the
 * first free ones from QTASKS_TOPOLOGY_PORT_BASE (default 7100). On a shared 2-core machine read
 * the CPU split, not the absolute throughput.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import process from "node:process";
import { createLogger, QueueTasks } from "../mod.ts";
import { clusterSlot } from "../src/backends/redis/_cluster_slot.ts";
import { partitionKeys } from "../src/backends/redis/mod.ts";
import { startCluster, stopTopology } from "../tests/support/redis_topology.ts";
import { cliArgs } from "./cli_args.ts";

const USAGE =
  "usage: deno run -A scripts/bench_partitions.ts [--n 20000] [--workers 3] [--concurrency 100] [--partitions 1,3]";

function programArgs(): string[] {
  const g = globalThis as { Deno?: { args: string[] } };
  return g.Deno ? g.Deno.args : process.argv.slice(2);
}

const argv = programArgs();

/** A worker process: `--worker URL NAME CONCURRENCY`. */
if (argv[0] === "--worker") {
  const [, url, name, concurrency] = argv;
  const app = new QueueTasks({
    name,
    brokerUrl: url,
    env: false,
    logger: createLogger("error"),
    config: { maxTasksProcess: Number(concurrency), shutdownGraceMs: 1_000 },
  });
  app.task("noop", (_i: number) => null);
  await app.start();
  console.log("READY");
  process.on("SIGTERM", () => {
    void app.stop({ graceMs: 500 }).finally(() => process.exit(0));
  });
} else {
  await main();
}

interface Options {
  n: number;
  workers: number;
  concurrency: number;
  partitions: number[];
}

function parse(): Options {
  const options: Options = { n: 20_000, workers: 3, concurrency: 100, partitions: [1, 3] };
  for (const { flag, value } of cliArgs(argv, USAGE)) {
    if (flag === "--partitions") {
      options.partitions = value().split(",").map(Number);
      continue;
    }
    const number = Number(value());
    if (!(Number.isInteger(number) && number > 0)) throw new RangeError(`${flag}: ${USAGE}`);
    if (flag === "--n") options.n = number;
    else if (flag === "--workers") options.workers = number;
    else if (flag === "--concurrency") options.concurrency = number;
    else throw new TypeError(`unknown flag ${flag}\n${USAGE}`);
  }
  return options;
}

function cli(port: number, ...args: string[]): string {
  return spawnSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8" }).stdout;
}

/** CPU seconds (user + sys) of the server on `port`. */
function cpuOf(port: number): number {
  const info = cli(port, "INFO", "cpu");
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1]);
  return field("used_cpu_user") + field("used_cpu_sys");
}

/** The primaries' ports, and which one serves a slot. */
function primaries(port: number): { ports: number[]; portOfSlot: (slot: number) => number } {
  const ranges: Array<{ from: number; to: number; port: number }> = [];
  for (const line of cli(port, "CLUSTER", "NODES").trim().split("\n")) {
    const fields = line.split(" ");
    if (!fields[2].includes("master")) continue;
    const nodePort = Number(/:(\d+)@/.exec(fields[1])?.[1]);
    for (const range of fields.slice(8)) {
      const [from, to] = range.split("-").map(Number);
      ranges.push({ from, to: to ?? from, port: nodePort });
    }
  }
  const ports = [...new Set(ranges.map((range) => range.port))].sort();
  return {
    ports,
    portOfSlot: (slot) => ranges.find((r) => slot >= r.from && slot <= r.to)?.port ?? 0,
  };
}

async function main(): Promise<void> {
  const options = parse();
  const topology = await startCluster();
  const self = new URL(import.meta.url).pathname;
  const rows: string[] = [];
  try {
    const seed = topology.nodes[0].port;
    const { ports, portOfSlot } = primaries(seed);
    console.log(
      `bench_partitions: ${
        new Date().toISOString()
      }, n ${options.n}, ${options.workers} worker processes, concurrency ${options.concurrency} in all, primaries ${
        ports.join(", ")
      }`,
    );
    for (const k of options.partitions) {
      // The partitions' slots follow from the app name: one is picked whose partitions sit on
      // as many different primaries as they can (as an operator would place them by moving
      // slots), so that the split measured is the one partitions allow.
      const placed = (name: string) =>
        partitionKeys(name, k).map((keys) => portOfSlot(clusterSlot(keys.queue)));
      let name = `bench-parts-${k}`;
      for (let i = 0; new Set(placed(name)).size < Math.min(k, ports.length); i++) {
        name = `bench-parts-${k}-${i}`;
      }
      const url = `${topology.url}?partitions=${k}`;
      const placement = placed(name);
      const app = new QueueTasks({
        name,
        brokerUrl: url,
        env: false,
        logger: createLogger("error"),
      });
      const noop = app.task("noop", (_i: number) => null);
      await app.ops.pause();
      for (let sent = 0; sent < options.n; sent += 1_000) {
        const size = Math.min(1_000, options.n - sent);
        await noop.addTasks(Array.from({ length: size }, (_, i) => [sent + i] as [number]));
      }
      const per = Math.ceil(options.concurrency / options.workers);
      const children = Array.from(
        { length: options.workers },
        () =>
          spawn(process.execPath, ["run", "-A", self, "--worker", url, name, String(per)], {
            stdio: ["ignore", "pipe", "inherit"],
          }),
      );
      await Promise.all(children.map((child) =>
        new Promise<void>((resolve, reject) => {
          let text = "";
          child.stdout!.on("data", (chunk) => {
            text += String(chunk);
            if (text.includes("READY")) resolve();
          });
          child.on("exit", (code) => reject(new Error(`a worker exited (${code})`)));
        })
      ));
      const before = ports.map(cpuOf);
      const start = performance.now();
      await app.ops.resume();
      for (;;) {
        const counts = await app.ops.counts();
        if (counts.byStatus.success >= options.n) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const seconds = (performance.now() - start) / 1000;
      const after = ports.map(cpuOf);
      for (const child of children) child.kill("SIGTERM");
      await Promise.all(
        children.map((child) =>
          child.exitCode !== null ? undefined : new Promise((resolve) => child.on("exit", resolve))
        ),
      );
      const used = after.map((value, i) => value - before[i]);
      const total = used.reduce((sum, value) => sum + value, 0);
      const split = ports.map((port, i) =>
        `${port}${placement.includes(port) ? "*" : ""}: ${used[i].toFixed(2)} s (${
          Math.round(100 * used[i] / total)
        }%)`
      ).join(", ");
      const row = `| ${k} | ${options.n} | ${seconds.toFixed(2)} | ${
        Math.round(options.n / seconds)
      } | ${total.toFixed(2)} | ${split} |`;
      rows.push(row);
      await app.flushAll();
      await app.stop();
    }
    console.log(
      "| partitions | tasks | seconds | tasks/s | Redis CPU s (all primaries) | CPU per primary (* holds a partition) |",
    );
    console.log("| - | - | - | - | - | - |");
    for (const row of rows) console.log(row);
  } finally {
    stopTopology(topology);
  }
  process.exit(0);
}

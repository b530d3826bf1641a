/**
 * Starts local distributed Redis deployments for tests, the fault suite and benchmarks: a Redis
 * Cluster of 3 primaries and 3 replicas (`redis-server --cluster-enabled yes`, then
 * `redis-cli --cluster create … --cluster-replicas 1 --cluster-yes`) and a Sentinel setup (one
 * primary, one replica, three Sentinels). Each server runs daemonized in a temporary folder with a
 * pid file, so a deployment can outlive the process that started it (scripts/redis_topology.ts)
 * and be stopped by another one. Needs `redis-server`, `redis-cli` (and `redis-sentinel` or
 * `redis-server --sentinel`) on the PATH.
 */
import { spawnSync } from "node:child_process";
import process from "node:process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One daemonized redis-server (or Sentinel). */
export interface TopologyNode {
  port: number;
  /** Its folder (config, pid file, log). */
  dir: string;
}

/** A running deployment. */
export interface RedisTopology {
  kind: "cluster" | "sentinel";
  /** `redis+cluster://…` or `redis+sentinel://…/qtasks-primary`. */
  url: string;
  /** Data nodes (cluster: primaries first as created; sentinel: primary, replica). */
  nodes: TopologyNode[];
  /** Sentinel only: the Sentinels. */
  sentinels: TopologyNode[];
  /** The folder holding every node's folder. */
  root: string;
}

/** The Sentinel name of the primary that {@linkcode startSentinel} sets up. */
export const SENTINEL_MASTER = "qtasks-primary";

/**
 * Where the servers' ports are looked for: `QTASKS_TOPOLOGY_PORT_BASE` (default 7100; the
 * cluster from there, the Sentinel setup from 50 above), so that runs started at the same time
 * on one machine can be kept apart.
 */
export function portBase(): number {
  const base = Number(process.env.QTASKS_TOPOLOGY_PORT_BASE ?? 7100);
  if (!(Number.isInteger(base) && base > 1024 && base < 55_000)) {
    throw new RangeError(
      `QTASKS_TOPOLOGY_PORT_BASE must be a port from 1025 to 54999, got ${base}`,
    );
  }
  return base;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * `count` free ports from `from` up (with `port + 10000`, a cluster's bus port, free too when
 * `bus`).
 */
export async function freePorts(count: number, from: number, bus: boolean): Promise<number[]> {
  const ports: number[] = [];
  for (let port = from; ports.length < count && port < from + 2_000; port++) {
    if (await portFree(port) && (!bus || await portFree(port + 10_000))) ports.push(port);
  }
  if (ports.length < count) throw new Error(`No ${count} free ports from ${from}`);
  return ports;
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr}${result.stdout}`);
  }
  return result.stdout;
}

function cli(port: number, ...args: string[]): string {
  return run("redis-cli", ["-p", String(port), ...args]);
}

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function ping(port: number): boolean {
  return spawnSync("redis-cli", ["-p", String(port), "PING"], { encoding: "utf8" }).stdout
    ?.trim() === "PONG";
}

/** Starts one daemonized redis-server on `port` in `root/<port>`, with extra config lines. */
async function startNode(root: string, port: number, extra: string[]): Promise<TopologyNode> {
  const dir = join(root, String(port));
  mkdirSync(dir, { recursive: true });
  const config = [
    `port ${port}`,
    "bind 127.0.0.1",
    "daemonize yes",
    `pidfile ${join(dir, "redis.pid")}`,
    `logfile ${join(dir, "redis.log")}`,
    `dir ${dir}`,
    'save ""',
    "appendonly no",
    ...extra,
  ];
  writeFileSync(join(dir, "redis.conf"), config.join("\n") + "\n");
  run("redis-server", [join(dir, "redis.conf")]);
  await until(`redis-server on ${port}`, () => ping(port));
  return { port, dir };
}

/** Kills a node with SIGKILL (its pid file says which process). */
export function killNode(node: TopologyNode): void {
  const pidFile = join(node.dir, "redis.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  try {
    if (pid > 0) process.kill(pid, "SIGKILL");
  } catch { /* already gone */ }
  rmSync(pidFile, { force: true });
}

/**
 * Starts a Redis Cluster of 3 primaries and 3 replicas on free ports from `fromPort`; resolves
 * once every node says `cluster_state:ok`.
 */
export async function startCluster(fromPort = portBase()): Promise<RedisTopology> {
  const root = mkdtempSync(join(tmpdir(), "qtasks-cluster-"));
  const ports = await freePorts(6, fromPort, true);
  const nodes: TopologyNode[] = [];
  const topology: RedisTopology = {
    kind: "cluster",
    url: `redis+cluster://${ports.slice(0, 3).map((port) => `127.0.0.1:${port}`).join(",")}`,
    nodes,
    sentinels: [],
    root,
  };
  try {
    for (const port of ports) {
      nodes.push(
        await startNode(root, port, [
          "cluster-enabled yes",
          `cluster-config-file ${join(root, String(port), "nodes.conf")}`,
          "cluster-node-timeout 2000",
        ]),
      );
    }
    run("redis-cli", [
      "--cluster",
      "create",
      ...ports.map((port) => `127.0.0.1:${port}`),
      "--cluster-replicas",
      "1",
      "--cluster-yes",
    ]);
    await until(
      "cluster_state:ok on every node",
      () => ports.every((port) => cli(port, "CLUSTER", "INFO").includes("cluster_state:ok")),
    );
    // Every node knows every other one (the replicas too) before a test runs.
    await until(
      "every node to see 6 nodes",
      () => ports.every((port) => cli(port, "CLUSTER", "NODES").trim().split("\n").length === 6),
    );
    // Every replica has synced with its primary: a replica that never did cannot be promoted,
    // and a failover scenario would wait for ever (on a loaded machine the first sync can take
    // longer than the cluster's creation).
    await until(
      "every replica to be in sync with its primary",
      () =>
        ports.every((port) => {
          const info = cli(port, "INFO", "replication");
          return info.includes("role:master") || info.includes("master_link_status:up");
        }),
    );
  } catch (error) {
    stopTopology(topology);
    throw error;
  }
  return topology;
}

/** How to start a Sentinel with config file `conf`. */
function sentinelCommand(conf: string): [string, string[]] {
  const which = spawnSync("sh", ["-c", "command -v redis-sentinel"], { encoding: "utf8" });
  return which.status === 0 ? ["redis-sentinel", [conf]] : ["redis-server", [conf, "--sentinel"]];
}

/**
 * Starts a primary, its replica and three Sentinels (quorum 2, `down-after-milliseconds` 1000,
 * `failover-timeout` 5000) on free ports from `fromPort`; resolves once every Sentinel knows the
 * replica and the other Sentinels.
 */
export async function startSentinel(fromPort = portBase() + 50): Promise<RedisTopology> {
  const root = mkdtempSync(join(tmpdir(), "qtasks-sentinel-"));
  const ports = await freePorts(5, fromPort, false);
  const nodes: TopologyNode[] = [];
  const sentinels: TopologyNode[] = [];
  const topology: RedisTopology = {
    kind: "sentinel",
    url: `redis+sentinel://${
      ports.slice(2).map((port) => `127.0.0.1:${port}`).join(",")
    }/${SENTINEL_MASTER}`,
    nodes,
    sentinels,
    root,
  };
  try {
    nodes.push(await startNode(root, ports[0], []));
    nodes.push(await startNode(root, ports[1], [`replicaof 127.0.0.1 ${ports[0]}`]));
    await until(
      "the replica to sync",
      () => cli(ports[1], "INFO", "replication").includes("master_link_status:up"),
    );
    for (const port of ports.slice(2)) {
      const dir = join(root, String(port));
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, "sentinel.conf"),
        [
          `port ${port}`,
          "bind 127.0.0.1",
          "daemonize yes",
          `pidfile ${join(dir, "redis.pid")}`,
          `logfile ${join(dir, "redis.log")}`,
          `dir ${dir}`,
          `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${ports[0]} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
          `sentinel failover-timeout ${SENTINEL_MASTER} 5000`,
        ].join("\n") + "\n",
      );
      run(...sentinelCommand(join(dir, "sentinel.conf")));
      await until(`sentinel on ${port}`, () => ping(port));
      sentinels.push({ port, dir });
    }
    await until(
      "every Sentinel to know the replica and the others",
      () =>
        sentinels.every((sentinel) => {
          const info = cli(sentinel.port, "INFO", "sentinel");
          return /slaves=1,sentinels=3/.test(info);
        }),
    );
  } catch (error) {
    stopTopology(topology);
    throw error;
  }
  return topology;
}

/** Kills every server of the deployment and removes its folder. */
export function stopTopology(topology: RedisTopology): void {
  for (const node of [...topology.sentinels, ...topology.nodes]) killNode(node);
  rmSync(topology.root, { recursive: true, force: true });
}

/** The port of the current primary of a Sentinel deployment, as the first Sentinel says. */
export function sentinelPrimaryPort(topology: RedisTopology): number {
  const reply = cli(
    topology.sentinels[0].port,
    "SENTINEL",
    "get-master-addr-by-name",
    SENTINEL_MASTER,
  );
  return Number(reply.trim().split("\n")[1]);
}

/** The ports of a cluster's current primaries (CLUSTER NODES of a live node). */
export function clusterPrimaryPorts(topology: RedisTopology): number[] {
  for (const node of topology.nodes) {
    const reply = spawnSync("redis-cli", ["-p", String(node.port), "CLUSTER", "NODES"], {
      encoding: "utf8",
    });
    if (reply.status !== 0 || !reply.stdout.includes("myself")) continue;
    return reply.stdout.trim().split("\n").filter((line) =>
      / master /.test(line) || /,master /.test(line)
    ).filter((line) => !line.includes("fail")).map((line) => Number(/:(\d+)@/.exec(line)?.[1]))
      .sort((a, b) => a - b);
  }
  return [];
}

/** The port of the primary that holds `key`'s slot. */
export function clusterPrimaryOf(topology: RedisTopology, key: string): number {
  for (const node of topology.nodes) {
    const reply = spawnSync("redis-cli", ["-p", String(node.port), "CLUSTER", "KEYSLOT", key], {
      encoding: "utf8",
    });
    if (reply.status !== 0) continue;
    const slot = Number(reply.stdout.trim());
    const nodes = cli(node.port, "CLUSTER", "NODES").trim().split("\n");
    for (const line of nodes) {
      const fields = line.split(" ");
      if (!fields[2].includes("master") || fields[2].includes("fail")) continue;
      for (const range of fields.slice(8)) {
        const [from, to] = range.split("-").map(Number);
        if (slot >= from && slot <= (to ?? from)) return Number(/:(\d+)@/.exec(fields[1])?.[1]);
      }
    }
  }
  throw new Error(`No primary holds the slot of ${key}`);
}

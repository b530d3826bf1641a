/**
 * The enqueue's cost per task, producer and Redis, without a worker: a micro-benchmark for the
 * deduplication work (issue 19: "costs nothing for tasks that don't use it"). It enqueues N
 * no-op tasks through `RedisBroker.add`, `inFlight` calls at a time (gathered by the broker into
 * enqueue_bulk calls, as a web server's requests are), and reads the server's CPU time (INFO cpu)
 * and INFO commandstats around the loop, and the producer's own CPU time (process.cpuUsage).
 * With `--dedup throttle` or `--dedup debounce` every task carries a deduplication id (`--ids`
 * distinct ids, default N: none joins), to see what the option itself costs.
 *
 *   deno run -A scripts/bench_enqueue.ts [--url redis://127.0.0.1:7399/0] [--n 20000]
 *     [--in-flight 100] [--repeat 5] [--tree DIR]... [--dedup throttle|debounce] [--ids K]
 *     [--callgrind]
 *
 *   --url     a Redis server to FLUSHALL between runs: use a private one
 *             (`redis-server --port 7399 --save ''`), never a shared one
 *   --tree    a checkout whose src/ to measure (repeatable; default this one): give the tree of
 *             another commit (`git worktree add --detach /tmp/base REF`) to compare in one run;
 *             the rounds interleave the trees, the median is reported
 *   --callgrind  the server runs under `valgrind --tool=callgrind --instr-atstart=no`: its
 *             instrumentation is turned on around each enqueue loop only and dumped per tree
 *             (`callgrind_annotate FILE | grep TOTALS`, divided by N), as in bench_exchange.ts:
 *
 *   valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.%p.out \
 *     redis-server --port 7398 --save '' &
 *   deno run -A scripts/bench_enqueue.ts --url redis://127.0.0.1:7398/0 --n 5000 --repeat 1 \
 *     --callgrind --tree /tmp/base --tree .
 *
 * @module
 */
import process from "node:process";
import { createClient } from "redis";
import { cliArgs } from "./cli_args.ts";

interface Broker {
  add(task: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const USAGE =
  "usage: deno run -A scripts/bench_enqueue.ts [--url URL] [--n N] [--in-flight C] [--repeat R] [--tree DIR]... [--dedup MODE] [--ids K] [--callgrind]";
let url = "redis://127.0.0.1:7399/0";
let n = 20_000;
let inFlight = 100;
let repeat = 5;
let dedup: "throttle" | "debounce" | undefined;
let ids = 0;
let callgrind = false;
const trees: string[] = [];
for (const arg of cliArgs(Deno.args, USAGE)) {
  if (arg.flag === "--url") url = arg.value();
  else if (arg.flag === "--n") n = Number(arg.value());
  else if (arg.flag === "--in-flight") inFlight = Number(arg.value());
  else if (arg.flag === "--repeat") repeat = Number(arg.value());
  else if (arg.flag === "--tree") trees.push(Deno.realPathSync(arg.value()));
  else if (arg.flag === "--ids") ids = Number(arg.value());
  else if (arg.flag === "--callgrind") callgrind = true;
  else if (arg.flag === "--dedup") {
    const mode = arg.value();
    if (mode !== "throttle" && mode !== "debounce") {
      throw new TypeError(`--dedup must be throttle or debounce, got ${mode}`);
    }
    dedup = mode;
  } else throw new Error(`Unknown argument ${arg.arg}\n${USAGE}`);
}
if (trees.length === 0) trees.push(ROOT);
for (const [name, value] of [["--n", n], ["--in-flight", inFlight], ["--repeat", repeat]]) {
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new TypeError(`${name} must be a positive integer`);
  }
}
if (ids === 0) ids = n;

const client = createClient({ url });
await client.connect();

/** Runs `callgrind_control` with these arguments (--callgrind). */
async function callgrindControl(...args: string[]): Promise<void> {
  if (!callgrind) return;
  const { success } = await new Deno.Command("callgrind_control", { args, stdout: "null" })
    .output();
  if (!success) throw new Error(`callgrind_control ${args.join(" ")} failed`);
}

async function snapshot(): Promise<{ cpu: number; calls: number }> {
  const text = String(await client.sendCommand(["INFO", "commandstats", "cpu"]));
  const cpu = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(text)?.[1] ?? 0);
  let calls = 0;
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (m[1] !== "info") calls += Number(m[2]);
  }
  return { cpu: cpu("used_cpu_user") + cpu("used_cpu_sys"), calls };
}

interface Run {
  redisCpuUs: number;
  producerCpuUs: number;
  commands: number;
  stored: number;
}

async function run(tree: string): Promise<Run> {
  const { RedisBroker } = await import(`${tree}/src/backends/redis/mod.ts`);
  await client.flushAll();
  const broker: Broker = new RedisBroker({ name: "bench-enqueue", url });
  const tasks: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const task: Record<string, unknown> = {
      uuid: crypto.randomUUID(),
      taskName: "noop",
      priority: 0,
      args: `[${i}]`,
      kwargs: "{}",
      extra: {},
    };
    if (dedup) task.deduplication = { id: `id-${i % ids}`, ttlMs: 60_000, mode: dedup };
    tasks.push(task);
  }
  // A first call loads the script (not measured).
  await broker.add({ ...tasks[0], uuid: crypto.randomUUID(), deduplication: undefined });
  await callgrindControl("-i", "on");
  const before = await snapshot();
  const cpuBefore = process.cpuUsage();
  let next = 0;
  const lane = async () => {
    while (next < n) await broker.add(tasks[next++]);
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const cpu = process.cpuUsage(cpuBefore);
  const after = await snapshot();
  await callgrindControl("-i", "off");
  await callgrindControl("-d", tree.split("/").pop() ?? "tree");
  const stored = Number(await client.sendCommand(["DBSIZE"]));
  await broker.stop();
  return {
    redisCpuUs: (after.cpu - before.cpu) * 1e6 / n,
    producerCpuUs: (cpu.user + cpu.system) / n,
    commands: (after.calls - before.calls - 1) / n,
    stored,
  };
}

const results = new Map<string, Run[]>();
for (let round = 0; round < repeat; round++) {
  const order = round % 2 === 0 ? trees : [...trees].reverse();
  for (const tree of order) {
    const r = await run(tree);
    if (!results.has(tree)) results.set(tree, []);
    results.get(tree)!.push(r);
  }
}
await client.flushAll();
await client.quit();

const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = results.get(trees[0])!;
for (const tree of trees) {
  const runs = results.get(tree)!;
  const redis = median(runs.map((r) => r.redisCpuUs));
  const producer = median(runs.map((r) => r.producerCpuUs));
  console.log(
    `${tree}: Redis CPU ${redis.toFixed(2)} µs/task (${
      (redis / median(base.map((r) => r.redisCpuUs))).toFixed(3)
    }x), producer CPU ${producer.toFixed(2)} µs/task (${
      (producer / median(base.map((r) => r.producerCpuUs))).toFixed(3)
    }x), ${runs[0].commands.toFixed(3)} commands/task, ${runs[0].stored} keys after the run`,
  );
}

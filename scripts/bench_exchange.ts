/**
 * The exchange script's Redis CPU per task, without a worker: a micro-benchmark for the cost of
 * the Redis scripts alone (issue 17, "Cost"). It fills a queue with N no-op tasks through the
 * broker's bulk enqueue, then calls `RedisBroker.exchange` in a loop from one client, each call
 * settling (as `success`) the B tasks the previous call claimed and claiming B more, as a worker
 * at concurrency B does, and reads the server's CPU time (INFO cpu, user + sys) and INFO
 * commandstats around the processing loop only.
 *
 *   deno run -A scripts/bench_exchange.ts [--url redis://127.0.0.1:7399/0] [--n 20000]
 *     [--batch 100] [--repeat 5] [--tree DIR]... [--json]
 *
 *   --url     a Redis server to FLUSHALL between runs: use a private one
 *             (`redis-server --port 7399 --save ''`), never a shared one
 *   --tree    a checkout whose src/ to measure (repeatable; default this one): give the tree of
 *             another commit (`git worktree add --detach /tmp/base REF`) to compare in one run;
 *             the rounds interleave the trees, the median is reported
 *   --json    one JSON line per tree instead of the table
 *   --callgrind  the server runs under `valgrind --tool=callgrind --instr-atstart=no`: turn its
 *             instrumentation on around each processing loop only (`callgrind_control -i on`,
 *             then `-i off` and `-d TREE`), so that each dump counts the instructions of one run
 *             (`callgrind_annotate FILE | grep TOTALS`, divided by N). Counts are repeatable to
 *             about 1% even on a loaded machine, unlike CPU time
 *
 * Without a worker, the client's own time does not hide the server's: the CPU per task is the
 * scripts' cost (networking included); on a shared machine it still moves by 20% or more, so
 * compare trees in one run, or count instructions (--callgrind):
 *
 *   valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.out \
 *     redis-server --port 7398 --save '' &
 *   deno run -A scripts/bench_exchange.ts --url redis://127.0.0.1:7398/0 --n 5000 --repeat 2 \
 *     --callgrind --tree /tmp/base --tree .
 *
 * @module
 */
import { createClient } from "redis";
import { cliArgs } from "./cli_args.ts";

interface Broker {
  addBulk(tasks: unknown[]): Promise<void>;
  exchange(request: unknown): Promise<{ claimed: Array<{ uuid: string; deliveries: number }> }>;
  stop(): Promise<void>;
}

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const USAGE =
  "usage: deno run -A scripts/bench_exchange.ts [--url URL] [--n N] [--batch B] [--repeat R] [--tree DIR]... [--json] [--callgrind]";
let url = "redis://127.0.0.1:7399/0";
let n = 20_000;
let batch = 100;
let repeat = 5;
let json = false;
let callgrind = false;
const trees: string[] = [];
for (const arg of cliArgs(Deno.args, USAGE)) {
  if (arg.flag === "--url") url = arg.value();
  else if (arg.flag === "--n") n = Number(arg.value());
  else if (arg.flag === "--batch") batch = Number(arg.value());
  else if (arg.flag === "--repeat") repeat = Number(arg.value());
  else if (arg.flag === "--tree") trees.push(arg.value().replace(/\/$/, ""));
  else if (arg.flag === "--json") json = true;
  else if (arg.flag === "--callgrind") callgrind = true;
  else throw new Error(`Unknown argument ${arg.arg}\n${USAGE}`);
}
if (trees.length === 0) trees.push(ROOT);
if (!Number.isInteger(n) || n < 1) throw new TypeError(`--n must be a positive integer`);
if (!Number.isInteger(batch) || batch < 1) {
  throw new TypeError(`--batch must be a positive integer`);
}
if (!Number.isInteger(repeat) || repeat < 1) {
  throw new TypeError(`--repeat must be a positive integer`);
}

const client = createClient({ url });
await client.connect();

/** Runs `callgrind_control` with these arguments (--callgrind). */
async function callgrindControl(...args: string[]): Promise<void> {
  if (!callgrind) return;
  const { success } = await new Deno.Command("callgrind_control", { args, stdout: "null" })
    .output();
  if (!success) throw new Error(`callgrind_control ${args.join(" ")} failed`);
}

async function snapshot(): Promise<
  { cpu: number; calls: Map<string, number>; usec: Map<string, number> }
> {
  const text = String(await client.sendCommand(["INFO", "commandstats", "cpu"]));
  const cpu = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(text)?.[1] ?? 0);
  const calls = new Map<string, number>();
  const usec = new Map<string, number>();
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    calls.set(m[1], Number(m[2]));
    usec.set(m[1], Number(m[3]));
  }
  return { cpu: cpu("used_cpu_user") + cpu("used_cpu_sys"), calls, usec };
}

interface Run {
  cpuUs: number;
  commands: number;
  calls: number;
  /** Per command: calls and µs per task (INFO commandstats; a script's usec includes its commands'). */
  byCommand: Record<string, [number, number]>;
}

async function run(tree: string): Promise<Run> {
  const { RedisBroker } = await import(`${tree}/src/backends/redis/mod.ts`);
  await client.flushAll();
  const broker: Broker = new RedisBroker({ name: "bench-exchange", url });
  const tasks = [];
  for (let i = 0; i < n; i++) {
    tasks.push({
      uuid: crypto.randomUUID(),
      taskName: "noop",
      priority: 0,
      args: `[${i}]`,
      kwargs: "{}",
      extra: {},
    });
  }
  for (let i = 0; i < n; i += 5000) await broker.addBulk(tasks.slice(i, i + 5000));
  await callgrindControl("-i", "on");
  const before = await snapshot();
  let running: Array<{ uuid: string; deliveries: number }> = [];
  let done = 0;
  let calls = 0;
  while (done < n) {
    const result = await broker.exchange({
      workerId: "bench-worker",
      settlements: running.map((t) => ({
        uuid: t.uuid,
        deliveries: t.deliveries,
        status: "success",
        returning: "null",
      })),
      want: batch,
      leaseMs: 60_000,
      resultTtlMs: 3_600_000,
      maxDeliveries: 3,
      recoverLimit: 100,
    });
    calls++;
    done += running.length;
    running = result.claimed;
  }
  const after = await snapshot();
  await callgrindControl("-i", "off");
  await callgrindControl("-d", tree.split("/").pop() ?? "tree");
  let commands = 0;
  const byCommand: Record<string, [number, number]> = {};
  for (const [name, count] of after.calls) {
    if (name === "info") continue;
    const delta = count - (before.calls.get(name) ?? 0);
    if (delta === 0) continue;
    commands += delta;
    const us = (after.usec.get(name) ?? 0) - (before.usec.get(name) ?? 0);
    byCommand[name] = [Number((delta / n).toFixed(3)), Number((us / n).toFixed(2))];
  }
  await broker.stop();
  return { cpuUs: (after.cpu - before.cpu) * 1e6 / n, commands: commands / n, calls, byCommand };
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
const first = median(results.get(trees[0])!.map((r) => r.cpuUs));
for (const tree of trees) {
  const runs = results.get(tree)!;
  const cpu = median(runs.map((r) => r.cpuUs));
  const line = {
    tree,
    n,
    batch,
    redisCpuUsPerTask: Number(cpu.toFixed(2)),
    runs: runs.map((r) => Number(r.cpuUs.toFixed(2))),
    commandsPerTask: Number(runs[0].commands.toFixed(3)),
    exchangeCalls: runs[0].calls,
    ratioToFirst: Number((cpu / first).toFixed(3)),
    byCommand: runs[0].byCommand,
  };
  console.log(
    json
      ? JSON.stringify(line)
      : `${tree}: Redis CPU ${line.redisCpuUsPerTask} µs/task (runs ${
        line.runs.join(", ")
      }), ${line.commandsPerTask} commands/task, ${line.exchangeCalls} exchanges, ${line.ratioToFirst}x\n  per task (calls, µs): ${
        Object.entries(line.byCommand).map(([k, [c, us]]) => `${k} ${c} ${us}`).join(", ")
      }`,
  );
}

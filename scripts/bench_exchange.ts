/**
 * The exchange script's Redis CPU per task, without a worker: a micro-benchmark for the cost of
 * the Redis scripts alone (issue 17, "Cost"). It fills a queue with N no-op tasks through the
 * broker's bulk enqueue, then calls `RedisBroker.exchange` in a loop from one client, each call
 * settling (as `success`) the B tasks the previous call claimed and claiming B more, as a worker
 * at concurrency B does, and reads the server's CPU time (INFO cpu, user + sys) and INFO
 * commandstats around the processing loop only, and this process's own CPU time (the broker's
 * encoding of the request and decoding of the reply, RESP included, plus the loop's own work,
 * which is the same for every tree).
 *
 *   deno run -A scripts/bench_exchange.ts [--url redis://127.0.0.1:7399/0] [--n 20000]
 *     [--batch 100] [--repeat 5] [--tree DIR]... [--ref REF]... [--json] [--callgrind]
 *     [--sequential | --empty]
 *
 *   --url     a Redis server to FLUSHALL between runs: use a private one, never a shared one.
 *             Without it, a private `redis-server` is started on a free port (killed at the end)
 *   --tree    a checkout whose src/ to measure (repeatable; default this one): the rounds
 *             interleave the trees, the median is reported, ratios are to the first tree
 *   --ref     a git ref of this repository, measured like a --tree (its files are extracted
 *             with `git archive` into a temporary directory, removed at the end); the trees and
 *             refs are measured in the order given
 *   --json    one JSON line per tree instead of the table
 *   --callgrind  the private server runs under `valgrind --tool=callgrind --instr-atstart=no`
 *             (not with --url), its instrumentation on around each processing loop only
 *             (`callgrind_control -i on PID`, then `-i off` and `--dump`): each dump counts the
 *             instructions of redis-server for one run, reported per task (median of the
 *             rounds). Counts are repeatable to about 0.1% even on a loaded machine, unlike CPU
 *             time (the server's CPU time under valgrind means nothing)
 *   --client-callgrind  counts this client's instructions instead (the broker's encoding of the
 *             request, the Redis client, the decoding of the reply: the worker's side of an
 *             exchange): each run is a child Deno process under callgrind against a plain private
 *             server, its instrumentation on around the loop only, after a warm-up of a fifth
 *             of N (JIT compilation); reported per task (median of the rounds)
 *   --sequential  one task at a time instead of a filled queue (scenario 4 of scripts/bench.ts,
 *             the latency's path): per task a lone enqueue (`add`), the idle worker's claim
 *             (want 110: its free slots and claim-ahead), the settlement (with a claim of 1
 *             riding on it) and the waiter's HGETALL, with a subscriber on the events channel so
 *             that the scripts publish as they do for a waiter; --batch is not used
 *   --empty   N exchanges on an empty queue, each claiming --batch (nothing to settle): the
 *             fixed cost of one script call, which a lone task pays in full (figures are per
 *             call)
 *   --callgrind-dir DIR  keeps the dumps there (`callgrind_annotate DIR/callgrind.out.1` says
 *             where the instructions went; dumps are numbered in run order, rounds interleaved)
 *
 * Without a worker, the client's own time does not hide the server's: the CPU per task is the
 * scripts' cost (networking included); on a shared machine it still moves by 20% or more, so
 * compare trees in one run, or count instructions:
 *
 *   deno run -A scripts/bench_exchange.ts --n 5000 --repeat 2 --callgrind --ref 6023f04 \
 *     --ref 8079105 --tree .
 *
 * @module
 */
import { createClient } from "redis";
import process from "node:process";
import { cliArgs } from "./cli_args.ts";

interface Broker {
  keys: { events: string; taskPrefix: string };
  add(task: unknown): Promise<unknown>;
  addBulk(tasks: unknown[]): Promise<void>;
  exchange(request: unknown): Promise<{ claimed: Array<{ uuid: string; deliveries: number }> }>;
  stop(): Promise<void>;
}

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const USAGE =
  "usage: deno run -A scripts/bench_exchange.ts [--url URL] [--n N] [--batch B] [--repeat R] [--tree DIR]... [--ref REF]... [--json] [--sequential|--empty] [--callgrind [--callgrind-dir DIR]]";
let url: string | undefined;
let n = 20_000;
let batch = 100;
let repeat = 5;
let json = false;
let callgrind = false;
let callgrindDir: string | undefined;
let clientCallgrind = false;
/** One task at a time: enqueue, claim, settle, read (see the usage). */
let sequential = false;
/** Exchanges on an empty queue: the fixed cost of one call (see the usage). */
let empty = false;
/** Set in a child of --client-callgrind: the tree to run. */
let clientChild: string | undefined;
/** The trees to measure, in order: a directory, or a git ref to extract. */
const wanted: Array<{ tree: string } | { ref: string }> = [];
for (const arg of cliArgs(Deno.args, USAGE)) {
  if (arg.flag === "--url") url = arg.value();
  else if (arg.flag === "--n") n = Number(arg.value());
  else if (arg.flag === "--batch") batch = Number(arg.value());
  else if (arg.flag === "--repeat") repeat = Number(arg.value());
  else if (arg.flag === "--tree") wanted.push({ tree: arg.value().replace(/\/$/, "") });
  else if (arg.flag === "--ref") wanted.push({ ref: arg.value() });
  else if (arg.flag === "--json") json = true;
  else if (arg.flag === "--callgrind") callgrind = true;
  else if (arg.flag === "--callgrind-dir") callgrindDir = arg.value();
  else if (arg.flag === "--client-callgrind") clientCallgrind = true;
  else if (arg.flag === "--sequential") sequential = true;
  else if (arg.flag === "--empty") empty = true;
  else if (arg.flag === "--client-child") clientChild = arg.value();
  else throw new Error(`Unknown argument ${arg.arg}\n${USAGE}`);
}
if (wanted.length === 0) wanted.push({ tree: ROOT });
if (!Number.isInteger(n) || n < 1) throw new TypeError(`--n must be a positive integer`);
if (!Number.isInteger(batch) || batch < 1) {
  throw new TypeError(`--batch must be a positive integer`);
}
if (!Number.isInteger(repeat) || repeat < 1) {
  throw new TypeError(`--repeat must be a positive integer`);
}
if (clientChild !== undefined) await runClientChild(clientChild);
if (callgrind && clientCallgrind) {
  throw new TypeError(`--callgrind or --client-callgrind\n${USAGE}`);
}
if (callgrind && url !== undefined) {
  throw new TypeError(`--callgrind starts its own server under valgrind: drop --url\n${USAGE}`);
}

/** Temporary directories and processes, removed and killed at the end. */
const tempDirs: string[] = [];
let server: Deno.ChildProcess | undefined;
function cleanUp(): void {
  if (server) {
    try {
      server.kill("SIGTERM");
    } catch {
      // Already gone.
    }
  }
  for (const dir of tempDirs) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // Already gone.
    }
  }
}
globalThis.addEventListener("unload", cleanUp);
Deno.addSignalListener("SIGINT", () => {
  cleanUp();
  Deno.exit(130);
});

/** The trees, labelled (a ref by its name, a directory by its path). */
const trees: Array<{ dir: string; label: string }> = [];
for (const item of wanted) {
  if ("tree" in item) {
    trees.push({ dir: item.tree === "." ? ROOT : item.tree, label: item.tree });
    continue;
  }
  const dir = await Deno.makeTempDir({ prefix: "qtasks-bench-exchange-" });
  tempDirs.push(dir);
  const archive = new Deno.Command("bash", {
    args: ["-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "_", ROOT, item.ref, dir],
    stderr: "piped",
  });
  const { success, stderr } = await archive.output();
  if (!success) {
    throw new Error(`--ref ${item.ref}: ${new TextDecoder().decode(stderr).trim()}`);
  }
  trees.push({ dir, label: item.ref });
}

/** Where callgrind writes its dumps (--callgrind): OUT.1, OUT.2, ... */
let callgrindOut = "";
if (url === undefined) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const dir = await Deno.makeTempDir({ prefix: "qtasks-bench-exchange-redis-" });
  tempDirs.push(dir);
  const serverArgs = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"];
  serverArgs.push("no", "--dir", dir, "--loglevel", "warning");
  if (callgrindDir !== undefined) Deno.mkdirSync(callgrindDir, { recursive: true });
  callgrindOut = `${callgrindDir ?? dir}/callgrind.out`;
  server = callgrind
    ? new Deno.Command("valgrind", {
      args: [
        "--tool=callgrind",
        "--instr-atstart=no",
        `--callgrind-out-file=${callgrindOut}`,
        "redis-server",
        ...serverArgs,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn()
    : new Deno.Command("redis-server", { args: serverArgs, stdout: "null", stderr: "null" })
      .spawn();
  url = `redis://127.0.0.1:${port}/0`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

if (clientCallgrind) {
  await runClientCallgrind();
  cleanUp();
  Deno.exit(0);
}

const client = createClient({ url });
await client.connect();

/** Runs `callgrind_control` with these arguments on the private server (--callgrind). */
async function callgrindControl(...args: string[]): Promise<void> {
  if (!callgrind) return;
  const { success } = await new Deno.Command("callgrind_control", {
    args: [...args, String(server!.pid)],
    stdout: "null",
  }).output();
  if (!success) throw new Error(`callgrind_control ${args.join(" ")} failed`);
}

/** Dump files already read (or there before this run, in a --callgrind-dir). */
const dumpsRead = new Set<string>();
if (callgrindDir !== undefined) {
  for (const entry of Deno.readDirSync(callgrindDir)) dumpsRead.add(entry.name);
}

/**
 * The instructions counted since the last call (--callgrind): the `totals:` of the dumps written
 * since then (one per run; callgrind may split one, so they are added).
 */
async function newestDumpInstructions(): Promise<number> {
  const dir = callgrindOut.slice(0, callgrindOut.lastIndexOf("/"));
  const base = callgrindOut.slice(callgrindOut.lastIndexOf("/") + 1);
  const fresh = [...Deno.readDirSync(dir)]
    .map((entry) => entry.name)
    .filter((name) => name.startsWith(`${base}.`) && !dumpsRead.has(name));
  if (fresh.length === 0) throw new Error(`no new callgrind dump in ${dir}`);
  let instructions = 0;
  for (const name of fresh) {
    dumpsRead.add(name);
    // The totals line ends a dump: wait for it (the dump may still be written).
    for (let tries = 0;; tries++) {
      const totals = /^totals: (\d+)/m.exec(Deno.readTextFileSync(`${dir}/${name}`));
      if (totals) {
        instructions += Number(totals[1]);
        break;
      }
      if (tries === 100) throw new Error(`no totals in callgrind dump ${name}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return instructions;
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
  /** This process's CPU time per task (µs): the broker's encode and decode, RESP included. */
  clientCpuUs: number;
  /** Instructions of redis-server per task (--callgrind). */
  instructions?: number;
  commands: number;
  calls: number;
  /** Per command: calls and µs per task (INFO commandstats; a script's usec includes its commands'). */
  byCommand: Record<string, [number, number]>;
}

async function run(tree: { dir: string; label: string }): Promise<Run> {
  // Trees from before the source layout of 2026-12-06 keep the broker in src/broker/.
  const { RedisBroker } = await import(`${tree.dir}/src/backends/redis/mod.ts`).catch(() =>
    import(`${tree.dir}/src/broker/redis_broker.ts`)
  );
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
  if (!sequential && !empty) {
    for (let i = 0; i < n; i += 5000) await broker.addBulk(tasks.slice(i, i + 5000));
  }
  // A result waiter is subscribed (the scripts publish only while someone listens).
  const listener = sequential ? client.duplicate() : undefined;
  if (listener) {
    await listener.connect();
    await listener.subscribe(broker.keys.events, () => {});
  }
  await callgrindControl("-i", "on");
  const before = await snapshot();
  const clientBefore = process.cpuUsage();
  let running: Array<{ uuid: string; deliveries: number }> = [];
  let done = 0;
  let calls = 0;
  if (empty) {
    // N exchanges that find nothing: the fixed cost of one call ("per task" is per call).
    for (let i = 0; i < n; i++) await broker.exchange(exchangeRequest([], batch, false));
    calls = n;
    done = n;
  }
  if (sequential) {
    // One task at a time, as scenario 4 of scripts/bench.ts runs it: a lone enqueue, the idle
    // worker's claim (its wake-up's, for its free slots and claim-ahead), the settlement (with
    // the claim of the slot it frees riding on it) and the waiter's read of the record.
    for (const task of tasks) {
      await broker.add(task);
      const claimed = await broker.exchange(exchangeRequest([], 110, true));
      const result = await broker.exchange(exchangeRequest(successes(claimed.claimed), 1, false));
      await client.hGetAll(`${broker.keys.taskPrefix}${task.uuid}`);
      calls += 2;
      done += claimed.claimed.length;
      running = result.claimed;
    }
    if (done !== n) throw new Error(`--sequential: ${done} of ${n} tasks claimed`);
  }
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
  const clientUsed = process.cpuUsage(clientBefore);
  const after = await snapshot();
  await callgrindControl("-i", "off");
  let instructions: number | undefined;
  if (callgrind) {
    await callgrindControl(`--dump=tree_${tree.label.replace(/[^A-Za-z0-9]/g, "_")}`);
    instructions = await newestDumpInstructions() / n;
  }
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
  if (listener) await listener.quit();
  return {
    cpuUs: (after.cpu - before.cpu) * 1e6 / n,
    clientCpuUs: (clientUsed.user + clientUsed.system) / n,
    instructions,
    commands: commands / n,
    calls,
    byCommand,
  };
}

const results = new Map<string, Run[]>();
for (let round = 0; round < repeat; round++) {
  const order = round % 2 === 0 ? trees : [...trees].reverse();
  for (const tree of order) {
    const r = await run(tree);
    if (!results.has(tree.dir)) results.set(tree.dir, []);
    results.get(tree.dir)!.push(r);
  }
}
await client.flushAll();
await client.quit();

const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)];
const firstRuns = results.get(trees[0].dir)!;
const first = {
  cpu: median(firstRuns.map((r) => r.cpuUs)),
  client: median(firstRuns.map((r) => r.clientCpuUs)),
  instructions: callgrind ? median(firstRuns.map((r) => r.instructions!)) : 0,
};
for (const tree of trees) {
  const runs = results.get(tree.dir)!;
  const cpu = median(runs.map((r) => r.cpuUs));
  const client = median(runs.map((r) => r.clientCpuUs));
  const instructions = callgrind ? median(runs.map((r) => r.instructions!)) : undefined;
  const line = {
    tree: tree.label,
    n,
    batch,
    redisCpuUsPerTask: Number(cpu.toFixed(2)),
    runs: runs.map((r) => Number(r.cpuUs.toFixed(2))),
    clientCpuUsPerTask: Number(client.toFixed(2)),
    clientRuns: runs.map((r) => Number(r.clientCpuUs.toFixed(2))),
    ...(instructions === undefined ? {} : {
      redisInstructionsPerTask: Math.round(instructions),
      instructionRuns: runs.map((r) => Math.round(r.instructions!)),
      instructionsRatioToFirst: Number((instructions / first.instructions).toFixed(3)),
    }),
    commandsPerTask: Number(runs[0].commands.toFixed(3)),
    exchangeCalls: runs[0].calls,
    ratioToFirst: Number((cpu / first.cpu).toFixed(3)),
    clientRatioToFirst: Number((client / first.client).toFixed(3)),
    byCommand: runs[0].byCommand,
  };
  if (json) {
    console.log(JSON.stringify(line));
    continue;
  }
  const counted = instructions === undefined
    ? ""
    : `redis-server ${
      line.redisInstructionsPerTask!.toLocaleString("en-US")
    } instructions/task (runs ${
      line.instructionRuns!.map((x) => x.toLocaleString("en-US")).join(", ")
    }), ${line.instructionsRatioToFirst}x; `;
  console.log(
    `${tree.label}: ${counted}Redis CPU ${line.redisCpuUsPerTask} µs/task (runs ${
      line.runs.join(", ")
    }), ${line.ratioToFirst}x; client CPU ${line.clientCpuUsPerTask} µs/task (runs ${
      line.clientRuns.join(", ")
    }), ${line.clientRatioToFirst}x; ${line.commandsPerTask} commands/task, ${line.exchangeCalls} exchanges\n  per task (calls, µs): ${
      Object.entries(line.byCommand).map(([k, [c, us]]) => `${k} ${c} ${us}`).join(", ")
    }`,
  );
}
cleanUp();

/** An exchange as the worker sends it: these settlements, a claim of `want`. */
function exchangeRequest(settlements: unknown[], want: number, idle: boolean): unknown {
  return {
    workerId: "bench-worker",
    settlements,
    want,
    leaseMs: 60_000,
    resultTtlMs: 3_600_000,
    maxDeliveries: 3,
    recoverLimit: 100,
    idle,
  };
}

/** A settlement of each task, as a worker sends it. */
function successes(tasks: Array<{ uuid: string; deliveries: number }>): unknown[] {
  return tasks.map((t) => ({
    uuid: t.uuid,
    deliveries: t.deliveries,
    status: "success",
    returning: "null",
  }));
}

/**
 * A child of --client-callgrind (under valgrind): fills the queue, runs a fifth of the tasks
 * through exchanges (warm-up), then the rest with its own instrumentation on, and exits.
 */
async function runClientChild(tree: string): Promise<never> {
  const { RedisBroker } = await import(`${tree}/src/backends/redis/mod.ts`);
  // Under valgrind this process is slow: no command deadline gets in the way.
  const broker = new RedisBroker({
    name: "bench-exchange-client",
    url,
    redis: { timeoutMs: 3_600_000 },
  });
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
  /** Claims and settles `count` tasks, `batch` per exchange. */
  const loop = async (count: number) => {
    let running: Array<{ uuid: string; deliveries: number }> = [];
    let claimed = 0;
    while (claimed < count || running.length > 0) {
      const want = Math.min(batch, count - claimed);
      const result = await broker.exchange({
        workerId: "bench-worker",
        settlements: successes(running),
        want,
        leaseMs: 60_000,
        resultTtlMs: 3_600_000,
        maxDeliveries: 3,
        recoverLimit: 100,
      });
      running = result.claimed;
      claimed += running.length;
      if (want > 0 && running.length === 0) throw new Error("the queue ran dry");
    }
  };
  const control = async (...args: string[]) => {
    const command = new Deno.Command("callgrind_control", {
      args: [...args, String(Deno.pid)],
      stdout: "null",
    });
    if (!(await command.output()).success) throw new Error(`callgrind_control ${args} failed`);
  };
  const warm = Math.floor(n / 5);
  await loop(warm);
  await control("-i", "on");
  await loop(n - warm);
  await control("-i", "off");
  await control("--dump=client");
  await broker.stop();
  console.log(`BENCH_CLIENT ${n - warm}`);
  Deno.exit(0);
}

/** --client-callgrind: the client's instructions per task, per tree. */
async function runClientCallgrind(): Promise<void> {
  const dir = callgrindDir ?? await Deno.makeTempDir({ prefix: "qtasks-bench-exchange-client-" });
  if (callgrindDir === undefined) tempDirs.push(dir);
  else Deno.mkdirSync(dir, { recursive: true });
  const perTree = new Map<string, number[]>();
  for (let round = 0; round < repeat; round++) {
    const order = round % 2 === 0 ? trees : [...trees].reverse();
    for (const tree of order) {
      const out = `${dir}/client.${tree.label.replace(/[^A-Za-z0-9]/g, "_")}.${round}`;
      const child = new Deno.Command("valgrind", {
        args: [
          "--tool=callgrind",
          "--instr-atstart=no",
          `--callgrind-out-file=${out}`,
          Deno.execPath(),
          "run",
          "-A",
          "--config",
          `${ROOT}/deno.json`,
          new URL(import.meta.url).pathname,
          "--client-child",
          tree.dir,
          "--url",
          url!,
          "--n",
          String(n),
          "--batch",
          String(batch),
        ],
        stdout: "piped",
        stderr: "piped",
      });
      const { success, stdout, stderr } = await child.output();
      const text = new TextDecoder().decode(stdout);
      const traced = /BENCH_CLIENT (\d+)/.exec(text);
      if (!success || !traced) {
        throw new Error(
          `client run of ${tree.label} failed: ${new TextDecoder().decode(stderr).slice(-2000)}`,
        );
      }
      let instructions = 0;
      for (const entry of Deno.readDirSync(dir)) {
        if (!entry.name.startsWith(`${out.slice(dir.length + 1)}.`)) continue;
        const totals = /^totals: (\d+)/m.exec(Deno.readTextFileSync(`${dir}/${entry.name}`));
        if (totals) instructions += Number(totals[1]);
      }
      if (!perTree.has(tree.dir)) perTree.set(tree.dir, []);
      perTree.get(tree.dir)!.push(instructions / Number(traced[1]));
    }
  }
  const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)];
  const first = median(perTree.get(trees[0].dir)!);
  for (const tree of trees) {
    const runs = perTree.get(tree.dir)!;
    const perTask = median(runs);
    const line = {
      tree: tree.label,
      n,
      batch,
      clientInstructionsPerTask: Math.round(perTask),
      runs: runs.map(Math.round),
      ratioToFirst: Number((perTask / first).toFixed(3)),
    };
    console.log(
      json
        ? JSON.stringify(line)
        : `${tree.label}: client ${
          line.clientInstructionsPerTask.toLocaleString("en-US")
        } instructions/task (runs ${
          line.runs.map((x) => x.toLocaleString("en-US")).join(", ")
        }), ${line.ratioToFirst}x`,
    );
  }
}

/**
 * Request-response (scenario 7 of scripts/bench.ts) measured by the figures a loaded machine does
 * not blur: CPU per call of the producer, the worker and Redis, Redis commands and record reads per
 * call, and with --callgrind the instructions Redis ran per call. Each run starts its own
 * redis-server on a free port, a worker process (concurrency 100) and a producer process (C calls
 * in flight, each `addTask` of a 1 KiB string then `result()`), both the benchmark's own driver
 * (scripts/bench/qtasks.ts) of the tree measured, and counts from the producer's start signal to
 * its last call.
 *
 *   deno run -A scripts/bench_request_response.ts [--n 10000] [--concurrency 200] [--repeat 3]
 *     [--runtime node|deno|bun] [--tree DIR]... [--callgrind] [--json]
 *
 *   --tree       a checkout to measure (repeatable; default this one): give the tree of another
 *                commit (`git worktree add --detach /tmp/base REF`, with node_modules and
 *                scripts/tools/node_modules linked to this tree's) to compare; the rounds
 *                interleave the trees, medians are reported
 *   --callgrind  redis-server runs under `valgrind --tool=callgrind --instr-atstart=no`, its
 *                instrumentation on from the start signal to the producer's end only: the
 *                instructions per call are repeatable to a few percent on a loaded machine
 *                (the run is several times slower; rates and latencies then mean nothing)
 *   --json       one JSON line per tree instead of the table
 *
 * Example (the comparison in docs/performance.md, request-response, round three):
 *
 *   git worktree add --detach /tmp/base d353c39
 *   ln -s "$PWD/node_modules" /tmp/base/node_modules
 *   ln -s "$PWD/scripts/tools/node_modules" /tmp/base/scripts/tools/node_modules
 *   deno run -A scripts/bench_request_response.ts --tree /tmp/base --tree . --repeat 4
 *   deno run -A scripts/bench_request_response.ts --tree /tmp/base --tree . --repeat 1 --callgrind
 *
 * @module
 */
import { cliArgs } from "./cli_args.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const USAGE =
  "usage: deno run -A scripts/bench_request_response.ts [--n N] [--concurrency C] [--repeat R] [--runtime node|deno|bun] [--tree DIR]... [--callgrind] [--json]";
let n = 10_000;
let concurrency = 200;
let repeat = 3;
let runtime = "node";
let callgrind = false;
let json = false;
const trees: string[] = [];
for (const arg of cliArgs(Deno.args, USAGE)) {
  if (arg.flag === "--n") n = Number(arg.value());
  else if (arg.flag === "--concurrency") concurrency = Number(arg.value());
  else if (arg.flag === "--repeat") repeat = Number(arg.value());
  else if (arg.flag === "--runtime") runtime = arg.value();
  else if (arg.flag === "--tree") trees.push(arg.value().replace(/\/$/, ""));
  else if (arg.flag === "--callgrind") callgrind = true;
  else if (arg.flag === "--json") json = true;
  else throw new Error(`unknown argument ${arg.arg}\n${USAGE}`);
}
if (![n, concurrency, repeat].every((v) => Number.isInteger(v) && v > 0)) {
  throw new Error(`--n, --concurrency and --repeat must be positive integers\n${USAGE}`);
}
if (!["node", "deno", "bun"].includes(runtime)) throw new Error(`unknown runtime\n${USAGE}`);
if (trees.length === 0) trees.push(ROOT);

const TOOLS = `${ROOT}/scripts/tools/node_modules/.bin`;
const runtimeCommand: Record<string, string[]> = {
  node: [`${TOOLS}/node`],
  deno: [Deno.execPath(), "run", "-A"],
  bun: [`${TOOLS}/bun`],
};

/** One run's figures, per call. */
interface Run {
  rate: number;
  p50: number;
  p99: number;
  producerUs: number;
  workerUs: number;
  redisUs: number;
  commands: number;
  reads: number;
  instructions?: number;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The lines a child prints, one by one. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let at: number;
    while ((at = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, at);
      rest = rest.slice(at + 1);
    }
  }
  if (rest) yield rest;
}

/** Resolves with the first line that starts with `prefix` (rejects when the stream ends). */
async function lineStarting(
  reader: AsyncGenerator<string>,
  prefix: string,
  what: string,
): Promise<string> {
  for (;;) {
    const next = await reader.next();
    if (next.done) throw new Error(`${what} ended before printing ${prefix}`);
    if (next.value.startsWith(prefix)) return next.value;
  }
}

async function redis(port: number, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("redis-cli", { args: ["-p", String(port), ...args] }).output();
  return new TextDecoder().decode(out.stdout);
}

function info(text: string, pattern: RegExp): number {
  let sum = 0;
  for (const match of text.matchAll(pattern)) sum += Number(match[1]);
  return sum;
}

/** CPU seconds (user + system) of a process, from /proc/PID/stat. */
async function processCpu(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100/s)
}

async function run(tree: string): Promise<Run> {
  const port = freePort();
  const url = `redis://127.0.0.1:${port}/0`;
  const dir = await Deno.makeTempDir({ prefix: "qtasks-rr-" });
  const server = ["redis-server", "--port", String(port), "--save", "", "--appendonly", "no"];
  const redisProcess = new Deno.Command(
    callgrind ? "valgrind" : server[0],
    {
      args: callgrind
        ? [
          "--tool=callgrind",
          "--instr-atstart=no",
          `--callgrind-out-file=${dir}/callgrind.out`,
          ...server,
        ]
        : server.slice(1),
      stdout: "null",
      stderr: "piped",
    },
  ).spawn();
  const redisErr = new Response(redisProcess.stderr).text();
  for (let i = 0; (await redis(port, "PING")).trim() !== "PONG"; i++) {
    if (i > 200) throw new Error("redis-server did not start");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const driver = `${tree}/scripts/bench/qtasks.ts`;
  const common = ["--url", url, "--queue", "rr", "--n", String(n)];
  const spawn = (args: string[], stdin: "piped" | "null") => {
    const [cmd, ...pre] = runtimeCommand[runtime];
    return new Deno.Command(cmd, {
      args: [...pre, driver, ...args],
      cwd: tree,
      stdin,
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  };
  const worker = spawn(["--mode", "worker", "--concurrency", "100", ...common], "null");
  const workerOut = lines(worker.stdout);
  await lineStarting(workerOut, "BENCH_READY", "the worker");
  void (async () => {
    for await (const _ of workerOut) { /* drained */ }
  })();
  const producer = spawn(
    ["--mode", "rr", "--concurrency", String(concurrency), "--wait-ms", "120000", ...common],
    "piped",
  );
  const producerOut = lines(producer.stdout);
  await lineStarting(producerOut, "BENCH_READY", "the producer");
  await redis(port, "CONFIG", "RESETSTAT");
  const cpuRe = /used_cpu_(?:sys|user):([\d.]+)/g;
  const redisCpu0 = info(await redis(port, "INFO", "cpu"), cpuRe);
  const workerCpu0 = await processCpu(worker.pid);
  if (callgrind) {
    await new Deno.Command("callgrind_control", {
      args: ["-i", "on", String(redisProcess.pid)],
      stdout: "null",
    }).output();
  }
  const stdin = producer.stdin.getWriter();
  await stdin.write(new TextEncoder().encode("go\n"));
  const resultLine = await lineStarting(producerOut, "BENCH_RESULT", "the producer");
  if (callgrind) {
    await new Deno.Command("callgrind_control", {
      args: ["-i", "off", String(redisProcess.pid)],
      stdout: "null",
    }).output();
  }
  const workerCpu1 = await processCpu(worker.pid);
  const redisCpu1 = info(await redis(port, "INFO", "cpu"), cpuRe);
  const stats = await redis(port, "INFO", "commandstats");
  await stdin.close().catch(() => {});
  await producer.status;
  worker.kill("SIGTERM");
  await worker.status;
  await redis(port, "SHUTDOWN", "NOSAVE");
  await redisProcess.status;
  const collected = /Collected : (\d+)/.exec(await redisErr)?.[1];
  await Deno.remove(dir, { recursive: true });
  const result = JSON.parse(resultLine.slice(resultLine.indexOf(" ") + 1));
  if (result.lost > 0 || result.failed > 0) {
    throw new Error(`${result.lost} calls lost, ${result.failed} failed`);
  }
  return {
    rate: result.perSecond,
    p50: result.p50Ms,
    p99: result.p99Ms,
    producerUs: result.clientCpuUsPerTask,
    workerUs: (workerCpu1 - workerCpu0) * 1e6 / n,
    redisUs: (redisCpu1 - redisCpu0) * 1e6 / n,
    commands: info(stats, /:calls=(\d+)/g) / n,
    reads: info(stats, /cmdstat_hgetall:calls=(\d+)/g) / n,
    instructions: collected === undefined ? undefined : Number(collected) / n,
  };
}

const runs = new Map<string, Run[]>(trees.map((tree) => [tree, []]));
for (let round = 0; round < repeat; round++) {
  for (const tree of trees) {
    const figures = await run(tree);
    runs.get(tree)!.push(figures);
    if (!json) console.error(`round ${round + 1} ${tree}: ${JSON.stringify(figures)}`);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const columns: Array<[keyof Run, string, number]> = [
  ["rate", "calls/s", 0],
  ["p50", "p50 ms", 1],
  ["p99", "p99 ms", 1],
  ["producerUs", "producer µs", 1],
  ["workerUs", "worker µs", 1],
  ["redisUs", "Redis µs", 1],
  ["commands", "cmds", 2],
  ["reads", "reads", 2],
  ["instructions", "Redis instr.", 0],
];
if (!json) {
  console.log(
    `request-response, ${runtime}, C = ${concurrency}, N = ${n}, median of ${repeat} (per call):`,
  );
  console.log(["tree".padEnd(30), ...columns.map(([, label]) => label.padStart(13))].join(""));
}
for (const [tree, list] of runs) {
  const row: Record<string, number | string> = { tree, runtime, concurrency, n, repeat };
  for (const [key] of columns) {
    const values = list.map((r) => r[key]).filter((v): v is number => v !== undefined);
    if (values.length > 0) row[key] = median(values);
  }
  if (json) console.log(JSON.stringify(row));
  else {
    console.log([
      tree.slice(-30).padEnd(30),
      ...columns.map(([key, , digits]) =>
        (typeof row[key] === "number" ? (row[key] as number).toFixed(digits) : "-").padStart(13)
      ),
    ].join(""));
  }
}

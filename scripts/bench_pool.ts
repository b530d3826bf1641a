/**
 * The worker pool benchmark (GitHub issue "Worker pool on Web Workers for CPU-bound tasks").
 *
 *   node scripts/bench_pool.ts [--n 200] [--ms 20] [--tiny-n 20000] [--size 2] [--no-install]
 *   deno run -A scripts/bench_pool.ts      (part 1 only: tinypool and piscina are Node pools)
 *   bun scripts/bench_pool.ts              (part 1 only)
 *
 * 1. CPU-bound: `--n` tasks of about `--ms` ms of pure-JS hashing each (calibrated on this
 *    machine at start), enqueued at once on the in-memory backend and awaited, on an
 *    AsyncWorker (one thread) and on a WorkerPool of `--size` threads (default: the number of
 *    cores). Prints both times and the speedup.
 * 2. Tiny tasks (Node only): the per-task cost of handing a task to a thread and getting its
 *    result, for our ThreadPool (its `execute`, as a worker calls it), tinypool and piscina,
 *    each with `--size` threads and one task per thread at a time, in the same run: `--tiny-n`
 *    tasks all at once (throughput), and one at a time (round trip). Prints µs per task and our
 *    ratio to each.
 *
 * The peers are installed from scripts/bench_pool/package.json (exact versions) into
 * scripts/bench_pool/node_modules with npm, unless `--no-install`. Figures on a shared machine
 * vary between runs: compare the ratios of one run.
 *
 * @module
 */
import { createLogger, QueueTasks, ThreadPool, WorkerPool } from "../mod.ts";
import { MemoryBroker } from "../src/backends/memory/mod.ts";
import { AsyncWorker, type TaskRun, type Worker } from "../src/ports/mod.ts";
import { hash, registerBenchTasks } from "./bench_pool/pool_app.ts";
import { cliArgs } from "./cli_args.ts";

const MODULE = new URL("./bench_pool/pool_app.ts", import.meta.url);
const PEERS_DIR = new URL("./bench_pool/", import.meta.url);
const SILENT = createLogger("silent");

interface Options {
  n: number;
  ms: number;
  tinyN: number;
  size: number;
  install: boolean;
}

const USAGE =
  "usage: node scripts/bench_pool.ts [--n 200] [--ms 20] [--tiny-n 20000] [--size N] [--no-install]";

function programArgs(): string[] {
  const g = globalThis as { Deno?: { args: string[] }; process?: { argv: string[] } };
  return g.Deno ? g.Deno.args : g.process?.argv.slice(2) ?? [];
}

function parseOptions(argv: string[]): Options {
  const cores = navigator.hardwareConcurrency ?? 2;
  const options: Options = { n: 200, ms: 20, tinyN: 20_000, size: cores, install: true };
  for (const { flag, value } of cliArgs(argv, USAGE)) {
    const number = () => {
      const parsed = Number(value());
      if (!Number.isInteger(parsed) || parsed <= 0) {
        throw new RangeError(`${flag} must be a positive integer\n${USAGE}`);
      }
      return parsed;
    };
    if (flag === "--n") options.n = number();
    else if (flag === "--ms") options.ms = number();
    else if (flag === "--tiny-n") options.tinyN = number();
    else if (flag === "--size") options.size = number();
    else if (flag === "--no-install") options.install = false;
    else throw new TypeError(`Unknown option ${flag}\n${USAGE}`);
  }
  return options;
}

function runtimeName(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno) return `Deno ${g.Deno.version.deno}`;
  if (g.Bun) return `Bun ${g.Bun.version}`;
  return `Node ${(globalThis as { process?: { version: string } }).process?.version}`;
}

/** Iterations of `hash` that take about `ms` on this machine (median of 5 measurements). */
function calibrate(ms: number): number {
  hash(2_000_000); // warm up
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    hash(2_000_000);
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return Math.round(2_000_000 * ms / samples[2]);
}

/** Enqueues `n` hash tasks at once on a started app and waits for every result: seconds. */
async function cpuRound(
  makeWorker: (broker: MemoryBroker) => Worker,
  n: number,
  iterations: number,
) {
  const broker = new MemoryBroker({ name: "bench-pool" });
  const worker = makeWorker(broker);
  const app = new QueueTasks({ name: "bench-pool", broker, worker, logger: SILENT, env: false });
  registerBenchTasks(app);
  await app.start();
  try {
    const started = performance.now();
    const jobs = await app.addTasks("hash", Array.from({ length: n }, () => [iterations]));
    for (const job of jobs) await job.value();
    return (performance.now() - started) / 1000;
  } finally {
    await app.stop();
  }
}

interface TinyPool {
  name: string;
  run(a: number, b: number): Promise<number>;
  close(): Promise<void>;
}

async function ourPool(size: number): Promise<TinyPool> {
  const pool = new ThreadPool({ module: MODULE, size });
  await pool.start();
  const app = new QueueTasks({ name: "bench-pool", logger: SILENT, env: false });
  registerBenchTasks(app);
  const definition = app.tasks.get("tiny")!;
  let uuid = 0;
  return {
    name: "QTasks ThreadPool",
    async run(a, b) {
      const run: TaskRun = {
        definition,
        uuid: String(++uuid),
        priority: 0,
        args: [a, b],
        deliveries: 1,
        // As a worker does: a controller per run (its cost counts against us).
        signal: new AbortController().signal,
        appName: "bench-pool",
        workerId: "bench",
        middlewaresBefore: [],
        middlewaresAfter: [],
      };
      const outcome = await pool.execute(run);
      if (outcome.status !== "success") throw new Error(JSON.stringify(outcome));
      return JSON.parse(outcome.returning);
    },
    close: () => pool.close(),
  };
}

interface PeerPool {
  run(task: { a: number; b: number }): Promise<number>;
  destroy(): Promise<void>;
}

async function peerPools(size: number): Promise<TinyPool[]> {
  const filename = new URL("./tiny_worker.mjs", PEERS_DIR).href;
  const load = (name: string) =>
    import(new URL(`./node_modules/${name}/dist/index.js`, PEERS_DIR).href);
  const pools: TinyPool[] = [];
  const { Tinypool } = await load("tinypool") as {
    Tinypool: new (options: Record<string, unknown>) => PeerPool;
  };
  const tinypool = new Tinypool({ filename, minThreads: size, maxThreads: size });
  pools.push({
    name: "tinypool 2.2.0",
    run: (a, b) => tinypool.run({ a, b }),
    close: () => tinypool.destroy(),
  });
  const { Piscina } = await load("piscina") as {
    Piscina: new (options: Record<string, unknown>) => PeerPool & { close(): Promise<void> };
  };
  const piscina = new Piscina({ filename, minThreads: size, maxThreads: size });
  pools.push({
    name: "piscina 5.3.2",
    run: (a, b) => piscina.run({ a, b }),
    close: () => piscina.destroy(),
  });
  return pools;
}

/** µs per task: `n` at once, and `n / 10` one at a time (after a warm-up of each). */
async function tinyRound(pool: TinyPool, n: number): Promise<{ burst: number; serial: number }> {
  const burst = async (count: number) => {
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: count }, (_, i) => pool.run(i, 1)));
    if (results[count - 1] !== count) throw new Error(`${pool.name}: wrong result`);
    return (performance.now() - started) * 1000 / count;
  };
  const serial = async (count: number) => {
    const started = performance.now();
    for (let i = 0; i < count; i++) await pool.run(i, 1);
    return (performance.now() - started) * 1000 / count;
  };
  await burst(Math.min(n, 2_000));
  await serial(200);
  return { burst: await burst(n), serial: await serial(Math.max(100, Math.floor(n / 10))) };
}

async function installPeers(): Promise<void> {
  const { execFileSync } = await import("node:child_process");
  const { existsSync } = await import("node:fs");
  const dir = new URL(".", PEERS_DIR).pathname;
  if (existsSync(`${dir}node_modules/piscina`) && existsSync(`${dir}node_modules/tinypool`)) return;
  console.error("peers: npm install (scripts/bench_pool/package.json)");
  execFileSync("npm", [
    "install",
    "--no-package-lock",
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
  ], {
    cwd: dir,
    stdio: "inherit",
  });
}

const fmt = (value: number, digits = 2) => value.toFixed(digits);

async function main(): Promise<void> {
  const options = parseOptions(programArgs());
  const onNode = !("Deno" in globalThis) && !("Bun" in globalThis);
  console.log(
    `bench_pool: ${runtimeName()}, ${navigator.hardwareConcurrency} cores, pool size ${options.size}`,
  );

  // 1. CPU-bound tasks.
  const iterations = calibrate(options.ms);
  const single = performance.now();
  hash(iterations);
  console.log(
    `\n1. ${options.n} CPU-bound tasks of ${options.ms} ms (${iterations} hash rounds, measured ${
      fmt(performance.now() - single, 1)
    } ms), in-memory backend`,
  );
  const asyncSeconds = await cpuRound(
    (broker) => new AsyncWorker({ broker }),
    options.n,
    iterations,
  );
  const poolSeconds = await cpuRound(
    (broker) => new WorkerPool({ broker, module: MODULE, size: options.size }),
    options.n,
    iterations,
  );
  console.log(`   AsyncWorker:          ${fmt(asyncSeconds)} s`);
  console.log(`   WorkerPool (${options.size} threads): ${fmt(poolSeconds)} s`);
  console.log(`   speedup: ${fmt(asyncSeconds / poolSeconds)}x (target at least 1.8x on 2 cores)`);

  // 2. Tiny tasks: dispatch overhead against tinypool and piscina.
  if (!onNode) {
    console.log("\n2. tiny tasks: run this script with node for tinypool and piscina");
    return;
  }
  if (options.install) await installPeers();
  console.log(
    `\n2. tiny tasks (a + b), ${options.size} threads, one task per thread at a time: µs per task`,
  );
  const pools = [await ourPool(options.size), ...await peerPools(options.size)];
  const figures: Array<{ burst: number; serial: number }> = [];
  try {
    for (const pool of pools) figures.push(await tinyRound(pool, options.tinyN));
  } finally {
    for (const pool of pools) await pool.close();
  }
  console.log(
    `   ${"pool".padEnd(20)} ${`${options.tinyN} at once`.padStart(14)} ${
      "one at a time".padStart(14)
    }`,
  );
  pools.forEach((pool, i) => {
    console.log(
      `   ${pool.name.padEnd(20)} ${fmt(figures[i].burst).padStart(14)} ${
        fmt(figures[i].serial).padStart(14)
      }`,
    );
  });
  for (let i = 1; i < pools.length; i++) {
    console.log(
      `   ours / ${pools[i].name}: ${fmt(figures[0].burst / figures[i].burst)}x at once, ${
        fmt(figures[0].serial / figures[i].serial)
      }x one at a time (target at most 1.2x)`,
    );
  }
}

await main();

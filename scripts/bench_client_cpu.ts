/**
 * CPU per task of QTasks' own client-side code on the Redis path, with no Redis: the app, the
 * worker, the executor, the broker's encoding and decoding and `RedisConnection` run as they do,
 * against a stub {@linkcode RedisClient} that answers each script call at once (a claim gets
 * the tasks it asks for, an enqueue its empty reply). node-redis, the socket and the server are
 * not in the figure, so it is steady on a loaded machine and moves only with our code:
 *
 *   deno run -A scripts/bench_client_cpu.ts [--mode process|enqueue] [--n 200000] [--rounds 5]
 *   node scripts/bench_client_cpu.ts …      bun scripts/bench_client_cpu.ts …
 *
 * `process`: a worker at concurrency 100 runs N no-op tasks (claimed 100 at a time, settled in
 * the next exchange), as scenario 3 of scripts/bench.ts does against Redis. `enqueue`: N
 * `addTask` calls, 100 in flight, as scenario 1. Prints the CPU time per task (process CPU
 * time / N: user + system) of each round and their median, after one warm-up round.
 *
 * @module
 */
import process from "node:process";
import { QueueTasks } from "../mod.ts";
import { RedisBroker, RedisConnection } from "../src/backends/redis/mod.ts";
import type { RedisClient, RedisReply } from "../src/backends/redis/mod.ts";
import { cliArgs } from "./cli_args.ts";
import { exchangeScript } from "../src/backends/redis/scripts/_exchange.ts";
import { enqueueBulkScript } from "../src/backends/redis/scripts/_enqueue_bulk.ts";
import { readWorkerStatsScript } from "../src/backends/redis/scripts/_read_worker_stats.ts";

const EXCHANGE_SHA = await exchangeScript.sha();
const ENQUEUE_SHA = await enqueueBulkScript.sha();
const STATS_SHA = await readWorkerStatsScript.sha();

interface StubState {
  left: number;
  settled: number;
  seq: number;
  calls: number;
  target: number;
  done: () => void;
}

/** A RedisClient that answers at once: claims get what they ask for, other calls something fitting. */
function stubClient(state: StubState): RedisClient {
  const now = String(Date.now());
  const due = String(Date.now() / 1000);
  const send = (args: readonly string[]): Promise<RedisReply> => {
    const name = args[0];
    if (name === "EVALSHA") {
      const keyCount = Number(args[2]);
      const argv = 3 + keyCount;
      if (args[1] === EXCHANGE_SHA) {
        // exchange: ARGV[4] want, ARGV[10] settlements
        state.calls++;
        state.settled += Number(args[argv + 9]);
        if (state.settled >= state.target) state.done();
        const want = Math.min(Number(args[argv + 3]), state.left);
        state.left -= want;
        const flat: string[] = [];
        for (let i = 0; i < want; i++) {
          const seq = String(++state.seq).padStart(15, "0");
          flat.push(
            `${seq}:${crypto.randomUUID()}`,
            "noop",
            `[${state.seq}]`,
            "{}",
            "0",
            "1",
            "",
            due,
            "",
          );
        }
        return Promise.resolve([flat, [], 0, [], 0, null, now, 0]);
      }
      // enqueue_bulk: nothing skipped; the other scripts: 0.
      if (args[1] === STATS_SHA) return Promise.resolve([now, [], ["0", "0"], []]);
      return Promise.resolve(args[1] === ENQUEUE_SHA ? [] : 0);
    }
    if (name === "CONFIG") return Promise.resolve(["maxmemory-policy", "noeviction"]);
    if (name === "BZPOPMIN") return new Promise(() => {});
    if (name === "SCAN") return Promise.resolve(["0", []]);
    if (name === "TIME") return Promise.resolve([String(Math.floor(Date.now() / 1000)), "0"]);
    return Promise.resolve(name === "PING" ? "PONG" : 0);
  };
  const client: RedisClient = {
    connect: () => Promise.resolve(),
    isReady: () => true,
    onReady: () => () => {},
    send,
    duplicate: () => stubClient(state),
    subscribe: () => Promise.resolve(),
    unsubscribe: () => Promise.resolve(),
    close: () => Promise.resolve(),
    destroy: () => {},
    onError: () => {},
  };
  return client;
}

function cpuUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

async function round(mode: string, n: number): Promise<{ us: number; calls: number }> {
  let done = () => {};
  const finished = new Promise<void>((resolve) => done = resolve);
  const state: StubState = {
    left: mode === "process" ? n : 0,
    settled: 0,
    seq: 0,
    calls: 0,
    target: n,
    done,
  };
  const connection = new RedisConnection({ createClient: () => stubClient(state) });
  const broker = new RedisBroker({ name: "cpu", connection });
  const app = new QueueTasks({
    name: "cpu",
    broker,
    env: false,
    config: { maxTasksProcess: 100, logsDefaultLevel: "warn", shutdownGraceMs: 1_000 },
  });
  const noop = app.task("noop", (_i: number) => Promise.resolve(null));
  await connection.command(["PING"]);
  const start = cpuUs();
  if (mode === "process") {
    await app.start();
    await finished;
  } else {
    let next = 0;
    await Promise.all(Array.from({ length: 100 }, async () => {
      while (next < n) {
        next++;
        await noop.addTask(next);
      }
    }));
  }
  const used = cpuUs() - start;
  await app.stop();
  return { us: used / n, calls: state.calls };
}

const USAGE = "usage: scripts/bench_client_cpu.ts [--mode process|enqueue] [--n N] [--rounds R]";
let mode = "process";
let n = 200_000;
let rounds = 5;
for (const { flag, value } of cliArgs(process.argv.slice(2), USAGE)) {
  if (flag === "--mode") mode = value();
  else if (flag === "--n") n = Number(value());
  else if (flag === "--rounds") rounds = Number(value());
  else throw new Error(`unknown flag ${flag}\n${USAGE}`);
}
if (mode !== "process" && mode !== "enqueue") throw new TypeError(`unknown --mode ${mode}`);
await round(mode, Math.min(n, 50_000)); // warm-up (JIT)
const figures: number[] = [];
let calls = 0;
for (let i = 0; i < rounds; i++) {
  const result = await round(mode, n);
  figures.push(result.us);
  calls += result.calls;
}
const sorted = [...figures].sort((a, b) => a - b);
console.log(
  `${mode}: CPU µs per task, rounds ${figures.map((f) => f.toFixed(2)).join(" ")}; median ${
    sorted[Math.floor(sorted.length / 2)].toFixed(2)
  }${mode === "process" ? `; ${(n * rounds / calls).toFixed(1)} tasks per exchange` : ""}`,
);
process.exit(0);

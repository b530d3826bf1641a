/**
 * Benchmark driver for QTasks' PostgreSQL backend, on Deno, Bun or Node 24: one step of
 * scripts/bench_postgres.ts in its own process, printed as one `BENCH_RESULT {json}` line.
 *
 *   deno run -A scripts/bench/qtasks_postgres.ts --step latency --n 200 \
 *     --url postgres://postgres@127.0.0.1:5432/qtasks_bench --schema qtasks_bench_deno
 *
 * Steps (each flushes the app's tasks first): `enqueue` (N `addTask` calls, 100 in flight),
 * `bulk` (`addTasks` of 1000), `process` (N tasks enqueued in bulk, then one worker at
 * `--concurrency`, timed from its start until every task ran and the worker stopped, at most
 * `--limit-ms`), `latency` (N times: `addTask` then `value()`, sequentially, an idle worker in
 * the same process; `--warmup` untimed ones first). The result has `seconds` (the timed part
 * only, not the process's start), `done` (process), and for latency `samples` (ms until the handler ran, as the peers are
 * measured) and `resultSamples` (ms until `value()` resolved: the result stored and pushed).
 *
 * @module
 */
import process from "node:process";
import { QueueTasks } from "../../mod.ts";
import { PostgresBroker } from "../../src/backends/postgres/mod.ts";
import { emit, inBatches, pool, runtimeName, secondsSince } from "./common.ts";

function option(name: string, fallback?: string): string {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? process.argv[at + 1] : fallback;
  if (value === undefined) throw new Error(`--${name} is required`);
  return value;
}

const step = option("step");
const n = Number(option("n"));
const concurrency = Number(option("concurrency", "100"));
const limitMs = Number(option("limit-ms", "600000"));
const warmup = Number(option("warmup", "0"));
const url = option("url");
const schema = option("schema");

function make(maxTasksProcess: number) {
  const broker = new PostgresBroker({ name: "bench", url, schema });
  const app = new QueueTasks({
    name: "bench",
    broker,
    env: false,
    config: { maxTasksProcess, logsDefaultLevel: "warn", shutdownGraceMs: 1_000 },
  });
  let done = 0;
  let onRun: () => void = () => {};
  const noop = app.task("noop", (_i: number) => {
    done++;
    onRun();
    return null;
  });
  return {
    app,
    broker,
    noop,
    done: () => done,
    /** Resolves when `count` tasks ran (the benchmark's own wait, not a product feature). */
    ran: (count: number) =>
      new Promise<void>((resolve) => {
        if (done >= count) return resolve();
        onRun = () => {
          if (done >= count) resolve();
        };
      }),
  };
}

function bulk(app: QueueTasks, count: number): Promise<void> {
  return inBatches(
    count,
    1000,
    (from, size) => app.addTasks("noop", Array.from({ length: size }, (_, j) => [from + j])),
  );
}

const producer = make(1);
await producer.broker.connection.ready();
await producer.broker.flushAll();
const result: Record<string, unknown> = { runtime: runtimeName(), step, n };
const started = performance.now();
if (step === "enqueue") {
  await pool(n, 100, (i) => producer.noop.addTask(i));
  result.seconds = secondsSince(started);
} else if (step === "bulk") {
  // The same n tasks untimed first, three times, as every contender's bulk step does
  // (scripts/bench_postgres.ts, BULK_WARMUPS): the peers run in the benchmark's process, already
  // warm, and this is a fresh process, whose first batches are slower until V8 has grown its young generation (its
  // scavenges took 4–12 ms each in the first 15 batches of 1,000, measured with --trace-gc: a
  // batch took 25–35 ms among the first ten, against 16 ms after; issue 20).
  for (let warm = 0; warm < 3; warm++) {
    await bulk(producer.app, n);
    await producer.broker.flushAll();
  }
  const begin = performance.now();
  await bulk(producer.app, n);
  result.seconds = secondsSince(begin);
} else if (step === "process") {
  await bulk(producer.app, n);
  const worker = make(concurrency);
  const begin = performance.now();
  await worker.app.start();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    worker.ran(n),
    new Promise((resolve) => timer = setTimeout(resolve, limitMs)),
  ]);
  clearTimeout(timer);
  result.done = worker.done();
  // Every result stored: the last settlements are flushed when the worker stops.
  await worker.app.stop();
  result.seconds = secondsSince(begin);
} else if (step === "latency") {
  const worker = make(10);
  await worker.app.start();
  const samples: number[] = [];
  const resultSamples: number[] = [];
  // `--warmup` untimed samples first, as every contender's latency step (LATENCY_WARMUPS in
  // scripts/bench_postgres.ts): the peers run in the benchmark's process, already warm.
  for (let i = 0; i < warmup + n; i++) {
    const ran = worker.ran(i + 1);
    const begin = performance.now();
    const handle = await producer.noop.addTask(i);
    await ran;
    const handled = performance.now() - begin;
    await handle.value({ timeoutMs: 10_000 });
    if (i < warmup) continue;
    samples.push(handled);
    resultSamples.push(performance.now() - begin);
  }
  await worker.app.stop();
  result.samples = samples;
  result.resultSamples = resultSamples;
} else {
  throw new Error(`unknown --step ${step}`);
}
await producer.broker.flushAll();
await producer.broker.stop();
emit("RESULT", result);
process.exit(0);

/**
 * Helpers shared by the benchmark drivers (scripts/bench/*.ts). Each driver is one contender:
 * it runs one step of one scenario in its own process and prints one `BENCH_RESULT {json}` line
 * (a worker started in the background prints `BENCH_READY` once it takes tasks; a memory run
 * prints `BENCH_SAMPLE {json}` lines). scripts/bench.ts starts the drivers and reads that output.
 *
 * Runs unchanged on Deno, Bun and Node 24 (which strips the types itself): only `node:` modules
 * that all three provide, and no TypeScript syntax that Node cannot strip.
 *
 * @module
 */
import process from "node:process";

/** Every step a driver may be asked to run. */
export type Mode =
  | "enqueue"
  | "bulk"
  | "fill"
  | "process"
  | "worker"
  | "latency"
  | "memworker"
  | "feed"
  | "rr";

/** The arguments of one driver run (`--mode process --n 20000 --concurrency 100 ...`). */
export interface DriverArgs {
  mode: Mode;
  /** Tasks in this step (latency: measured round trips; memworker/feed: the total). */
  n: number;
  /** Worker concurrency, or in-flight calls for `enqueue`. */
  concurrency: number;
  /** Redis URL, with the database number: `redis://127.0.0.1:6390/0`. */
  url: string;
  /** Queue (app) name. */
  queue: string;
  /** Latency: untimed round trips first. */
  warmup: number;
  /** Memory: take an RSS sample every this many processed tasks. */
  sampleEvery: number;
  /** Feed: tasks per bulk call. */
  chunk: number;
  /** Feed: enqueue only while the queue is shorter than this. */
  maxQueue: number;
  /** Request-response: bytes of the string argument of each task. */
  payload: number;
  /** Request-response: longest wait for one call's result (ms) before it counts as lost. */
  waitMs: number;
}

const MODES: readonly Mode[] = [
  "enqueue",
  "bulk",
  "fill",
  "process",
  "worker",
  "latency",
  "memworker",
  "feed",
  "rr",
];

/** Parses `--name value` pairs (numbers where a number is expected). */
export function parseDriverArgs(
  argv: string[] = process.argv.slice(2),
): DriverArgs {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (!flag.startsWith("--") || value === undefined) {
      throw new Error(
        `bad driver arguments near "${flag}": expected --name value pairs`,
      );
    }
    values.set(flag.slice(2), value);
  }
  const text = (name: string, fallback?: string): string => {
    const value = values.get(name) ?? fallback;
    if (value === undefined) {
      throw new Error(`driver argument --${name} is required`);
    }
    return value;
  };
  const int = (name: string, fallback?: number): number => {
    const value = Number(
      text(name, fallback === undefined ? undefined : String(fallback)),
    );
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new Error(
        `driver argument --${name} must be a non-negative integer`,
      );
    }
    return value;
  };
  const mode = text("mode") as Mode;
  if (!MODES.includes(mode)) {
    throw new Error(`unknown mode ${mode} (one of ${MODES.join(", ")})`);
  }
  return {
    mode,
    n: int("n"),
    concurrency: int("concurrency", 100),
    url: text("url"),
    queue: text("queue", "bench"),
    warmup: int("warmup", 20),
    sampleEvery: int("sample-every", 100_000),
    chunk: int("chunk", 10_000),
    maxQueue: int("max-queue", 50_000),
    payload: int("payload", 1024),
    waitMs: int("wait-ms", 10_000),
  };
}

/** Host, port and database of a `redis://host:port/db` URL (for the peers' own options). */
export function redisTarget(
  url: string,
): { host: string; port: number; db: number } {
  const parsed = new URL(url);
  return {
    host: parsed.hostname || "127.0.0.1",
    port: Number(parsed.port || 6379),
    db: Number(parsed.pathname.replace(/^\//, "") || 0),
  };
}

/** Which runtime runs this driver. */
export function runtimeName(): "deno" | "bun" | "node" {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Deno) return "deno";
  if (g.Bun) return "bun";
  return "node";
}

/** Runs `fn(0) … fn(n - 1)` with at most `concurrency` calls in flight. */
export async function pool(
  n: number,
  concurrency: number,
  fn: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, n)) }, lane),
  );
}

/**
 * Calls `call(from, count)` for `n` items in batches of `size` at most, one batch after the other
 * (each awaited): the bulk enqueue steps' loop.
 */
export async function inBatches(
  n: number,
  size: number,
  call: (from: number, count: number) => Promise<unknown>,
): Promise<void> {
  for (let from = 0; from < n; from += size) await call(from, Math.min(size, n - from));
}

/** The p-th percentile (0–100) of the values, nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** The latency figures every driver reports for its samples (milliseconds). */
export function latencySummary(
  samples: number[],
): { p50Ms: number; p99Ms: number; meanMs: number; maxMs: number } {
  return {
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
    meanMs: samples.reduce((a, b) => a + b, 0) / samples.length,
    maxMs: Math.max(...samples),
  };
}

/** Runs a full garbage collection when the runtime exposes one (see scripts/bench.ts flags). */
export function collectGarbage(): boolean {
  const g = globalThis as {
    gc?: () => void;
    Bun?: { gc(force: boolean): void };
  };
  if (typeof g.gc === "function") {
    g.gc();
    return true;
  }
  if (g.Bun && typeof g.Bun.gc === "function") {
    g.Bun.gc(true);
    return true;
  }
  return false;
}

/** Memory of this process in MiB (`process.memoryUsage()`), after a full collection if possible. */
export function memorySample(): {
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  gc: boolean;
} {
  const gc = collectGarbage();
  const usage = process.memoryUsage();
  const mib = (bytes: number | undefined) => (bytes ?? 0) / 2 ** 20;
  return {
    rssMiB: mib(usage.rss),
    heapUsedMiB: mib(usage.heapUsed),
    heapTotalMiB: mib(usage.heapTotal),
    externalMiB: mib(usage.external),
    gc,
  };
}

/** Starts a clock of this process's CPU time (user + system); it returns microseconds so far. */
export function cpuClock(): () => number {
  const start = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(start);
    return used.user + used.system;
  };
}

/** Seconds since `start` (a `performance.now()` value). */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}

/** Prints a line for the orchestrator (stdout is reserved for these lines). */
export function emit(
  kind: "RESULT" | "SAMPLE" | "READY",
  payload?: unknown,
): void {
  console.log(
    payload === undefined ? `BENCH_${kind}` : `BENCH_${kind} ${JSON.stringify(payload)}`,
  );
}

/** The first fields of a RESULT line: who ran (lib, version, runtime …) and `n`, in print order. */
export type ResultHead = Record<string, unknown> & { n: number };

/** Throws `expected 20000 waiting jobs, found 19999` unless `found` is `expected`. */
export function expectCount(
  expected: number,
  found: unknown,
  what: string,
): void {
  if (found !== expected) {
    throw new Error(`expected ${expected} ${what}, found ${found}`);
  }
}

/**
 * One timed throughput run (enqueue, bulk, fill, process): times `run` (wall clock, and this
 * process's CPU per task), then awaits `after` with what `run` returned (the driver's checks and
 * clean-up; it throws to fail the run) and emits the RESULT line: `head`, then `seconds`,
 * `perSecond` and `clientCpuUsPerTask`.
 */
export async function timedRun<T>(
  head: ResultHead,
  run: () => Promise<T>,
  after: (value: T) => Promise<void> | void,
): Promise<void> {
  const start = performance.now();
  const cpu = cpuClock();
  const value = await run();
  const seconds = secondsSince(start);
  const clientCpuUsPerTask = cpu() / head.n;
  await after(value);
  emit("RESULT", {
    ...head,
    seconds,
    perSecond: head.n / seconds,
    clientCpuUsPerTask,
  });
}

/**
 * The latency run: `warmup` untimed round trips, then `head.n` timed ones, one at a time (`i`
 * counts all of them). `check` sees each round trip's value once it is timed (it throws to fail
 * the run); `close` runs after the last one, before the RESULT line: `head`, `warmup`, then the
 * {@linkcode latencySummary} of the timed round trips.
 */
export async function latencyRun<T>(
  head: ResultHead,
  warmup: number,
  roundTrip: (i: number) => Promise<T>,
  close: () => Promise<void>,
  check?: (value: T, i: number) => void,
): Promise<void> {
  const samples: number[] = [];
  for (let i = 0; i < warmup + head.n; i++) {
    const start = performance.now();
    const value = await roundTrip(i);
    const ms = performance.now() - start;
    check?.(value, i);
    if (i >= warmup) samples.push(ms);
  }
  await close();
  emit("RESULT", { ...head, warmup, ...latencySummary(samples) });
}

/** What one request-response call ended with: its result arrived, or its wait ran out. */
export type CallOutcome = "finished" | "lost";

/** The string argument of call `i`: `bytes` long, different per call. */
export function payloadFor(i: number, bytes: number): string {
  const head = `${i}:`;
  return head + "x".repeat(Math.max(0, bytes - head.length));
}

/** Waits for `promise`, or for `ms` (then "lost"); the promise's own error is passed on. */
export function bounded(promise: Promise<unknown>, ms: number): Promise<CallOutcome> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<CallOutcome>((resolve) => {
    timer = setTimeout(() => resolve("lost"), ms);
  });
  return Promise.race([promise.then((): CallOutcome => "finished"), timeout]).finally(() =>
    clearTimeout(timer)
  );
}

/** Resolves on the first line the orchestrator writes to stdin (the start signal). */
export function waitForGo(): Promise<void> {
  return new Promise((resolve) => {
    const onData = () => {
      process.stdin.off("data", onData);
      process.stdin.pause();
      resolve();
    };
    process.stdin.on("data", onData);
    process.stdin.resume();
  });
}

/**
 * The request-response run (scenario 7): prints READY once connected, waits for the
 * orchestrator's start line on stdin, then keeps `args.concurrency` calls in flight until
 * `head.n` calls ended. A call enqueues one task with a `args.payload`-byte string argument and
 * awaits its own result, within `args.waitMs` (else it counts as lost: "did not finish"); its
 * latency is from before the enqueue until the result is in hand. The RESULT line has `head`,
 * the wall-clock span (`startedAt`, `endedAt` in epoch ms, to merge several producers),
 * `perSecond`, this process's CPU per call, the lost and failed counts, the latency summary and
 * a histogram of every finished call's latency (`histogram`: ms to 3 significant digits → calls;
 * a line short enough for any pipe, mergeable over producers).
 */
export async function requestResponseRun(
  head: ResultHead,
  args: DriverArgs,
  call: (i: number, payload: string) => Promise<CallOutcome>,
  close: () => Promise<void>,
): Promise<void> {
  emit("READY");
  await waitForGo();
  const samples: number[] = [];
  let lost = 0;
  let failed = 0;
  let firstError: string | undefined;
  const startedAt = Date.now();
  const start = performance.now();
  const cpu = cpuClock();
  await pool(head.n, args.concurrency, async (i) => {
    const payload = payloadFor(i, args.payload);
    const t0 = performance.now();
    try {
      if (await call(i, payload) === "lost") lost++;
      else samples.push(performance.now() - t0);
    } catch (error) {
      failed++;
      firstError ??= String((error as Error)?.message ?? error);
    }
  });
  const seconds = secondsSince(start);
  const clientCpuUs = cpu();
  const endedAt = Date.now();
  await close();
  emit("RESULT", {
    ...head,
    concurrency: args.concurrency,
    seconds,
    perSecond: head.n / seconds,
    startedAt,
    endedAt,
    clientCpuUsPerTask: clientCpuUs / head.n,
    clientCpuUs,
    lost,
    failed,
    firstError,
    ...(samples.length ? latencySummary(samples) : {}),
    histogram: latencyHistogram(samples),
  });
}

/** Latencies (ms) counted per value rounded to 3 significant digits. */
export function latencyHistogram(samples: number[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const ms of samples) {
    const key = String(Number(ms.toPrecision(3)));
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** A background worker's end: prints READY and waits until the orchestrator stops this process. */
export function serveUntilStopped(): Promise<never> {
  emit("READY");
  return new Promise<never>(() => {});
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves when `count()` reaches `target`, checking on each call of the returned `poke`. */
export function countdown(
  target: number,
): { poke: (count: number) => void; done: Promise<void> } {
  let resolve: () => void = () => {};
  const done = new Promise<void>((r) => resolve = r);
  if (target <= 0) resolve();
  return { poke: (count) => count >= target && resolve(), done };
}

/**
 * Runs a driver's main function: prints its error and exits 1 on failure, exits 0 when done
 * (clients that linger cannot keep the process alive). Background workers never return; they
 * are killed by the orchestrator, and exit 0 on SIGTERM/SIGINT.
 */
export function runDriver(main: (args: DriverArgs) => Promise<void>): void {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => process.exit(0));
  }
  let args: DriverArgs;
  try {
    args = parseDriverArgs();
  } catch (error) {
    console.error(`driver: ${(error as Error).message}`);
    process.exit(2);
  }
  main(args).then(
    () => process.exit(0),
    (error) => {
      console.error(
        `driver ${args.mode} failed: ${(error as Error)?.stack ?? error}`,
      );
      process.exit(1);
    },
  );
}

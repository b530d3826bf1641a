/**
 * The benchmark: QTasks (on Deno, Bun and Node) against BullMQ and bee-queue (on Node), on the
 * same machine, the same Redis and in the same run (GitHub issue "Performance: benchmark against
 * BullMQ and bee-queue in the same run").
 *
 *   deno run -A scripts/bench.ts [--short] [--json FILE] [--scenarios 1,3] [--contenders LIST]
 *                                [--n N] [--latency-n N] [--rr-n N] [--memory-n N] [--repeat R]
 *                                [--redis-url URL] [--baseline REF] [--current-env KEY=VALUE]
 *                                [--no-install] [--verbose]
 *
 *   --short       smaller numbers (under about 2 minutes): N 2,000, latency 200, memory 20k/100k
 *   --json        where to write the whole result (default .bench/bench.json)
 *   --scenarios   run only these scenarios (1–7)
 *   --contenders  run only these: qtasks-deno, qtasks-bun, qtasks-node, bullmq, bee-queue
 *   --n, --latency-n, --rr-n, --memory-n   override the task counts (memory: the last
 *                 checkpoint; rr: request-response calls, scenario 7)
 *   --repeat      rounds of scenarios 1–3 and 7 over all contenders, median reported (default 3;
 *                 short 1)
 *   --redis-url   use this Redis database (FLUSHDB before each run) instead of a private
 *                 redis-server; INFO commandstats then also counts other clients of that server
 *   --baseline    also measure QTasks as it was at git ref REF (commit, tag or branch), in the
 *                 same run: see "Baseline" below (`deno task bench:compare REF`)
 *   --current-env KEY=VALUE   set this environment variable for the current tree's QTasks
 *                 drivers only, not for the baseline's nor the peers' (repeatable). With
 *                 `--baseline HEAD` it measures one switch against the same code without it, in
 *                 the same run: `--baseline HEAD --current-env QTASKS_BENCH_OTEL=1` is the
 *                 OpenTelemetry overhead (docs/observability.md)
 *   --no-install  do not run npm install for the peers (missing ones are reported unavailable)
 *   --verbose     echo every driver's output to stderr
 *
 * Scenarios (Redis flushed before each run of each contender):
 *   1. enqueue N tasks one call at a time, 100 calls in flight (`addTask`, `queue.add`,
 *      `createJob().save()`)
 *   2. bulk enqueue of N tasks in one call (`addTasks`, `addBulk`, `saveAll`)
 *   3. process N pre-enqueued no-op tasks at concurrency 100 and at 1, timed from the worker's
 *      start until every result is stored
 *   4. sequential enqueue-then-await latency (p50, p99), the worker in another process
 *   5. Redis commands per task: INFO commandstats deltas of every run (commands called inside
 *      Lua scripts included), and a replica of scenarios 1 + 3 (c100) under MONITOR, which tells
 *      the commands clients sent from those run inside scripts; also the Redis server's CPU
 *      time per task (INFO cpu), networking included
 *   6. worker memory (QTasks only, each runtime): RSS after 100,000 and 1,000,000 processed
 *      tasks (short: 20k and 100k), fed by bulk enqueue in chunks from another process
 *   7. request-response, the pattern of a web handler that enqueues a task and awaits its
 *      result: producers keep C calls in flight (200 and 1,000 from one process; 200 from 4
 *      processes, 50 each), each enqueues a task with a 1 KiB string argument and awaits its own
 *      result (`addTask` + `result()`, BullMQ `add` + `waitUntilFinished`, bee-queue `save` +
 *      its queue's `job succeeded` event); one worker process at concurrency 100; N 10,000
 *      calls over all producers (short: 2,000; `--rr-n`), `--repeat` rounds, median reported.
 *      Each call's wait is bounded (10 s): a lost result shows as "did not finish" in the
 *      table instead of hanging the run. Reported: calls/s (N over the span from the first
 *      producer's start to the last one's end), latency p50 and p99 of every call, and CPU per
 *      call of the producers (their own clock), the worker (/proc/PID/stat) and Redis (INFO cpu)
 *
 * Each contender and runtime runs in its own child process: a driver in scripts/bench/ that
 * takes the step as arguments and prints one JSON line. The peers are installed from
 * scripts/bench/package.json (exact versions) into scripts/bench/node_modules. The table shows
 * each figure per contender and our ratio to the best peer, then the issue's targets, then what
 * the CPU allows: per step (enqueue 1-by-1, processing at c100, request-response), each
 * contender's CPU per task summed over the processes on its path, the rate the cores would give
 * at that cost, the share of it reached, and for each rate target the CPU per task the target's
 * rate allows on this machine (`ceilings` in the JSON); the JSON has everything (raw driver output, commands by name, memory samples, durations). Child
 * processes and the private redis-server are killed at the end, also on failure or Ctrl-C.
 *
 * Baseline (`--baseline REF`): the QTasks tree at REF is checked out with
 * `git worktree add --detach` in a temporary folder, and its own driver
 * (scripts/bench/qtasks.ts there, which imports that checkout's src/) runs with the same
 * arguments as extra contenders, one per QTasks runtime measured: `qtasks-deno@REF`,
 * `qtasks-node@REF`, `qtasks-bun@REF`. Each baseline contender runs right next to its current
 * twin in every round (current first in even rounds, baseline first in odd ones), so both see
 * the same machine conditions. The checkout reuses this tree's node_modules and
 * scripts/tools/node_modules through symlinks when REF's deno.json has the same npm imports
 * (`redis` is resolved from node_modules by Node and Bun, and Deno's `nodeModulesDir` finds it
 * up to date); otherwise `deno install` gives the checkout its own. A checkout whose driver
 * predates the request-response mode (scenario 7) gets this tree's scripts/bench/common.ts and
 * qtasks.ts (they import the checkout's src/, so its code is what is measured). The report adds
 * a table of ratios current / baseline per runtime for each metric measured by both (and the
 * issue 15 check: processing at concurrency 100 at least 0.95 of the baseline); the JSON has them under
 * `baseline` and `ratiosToBaseline`. The checkout is removed at the end, also on failure or
 * Ctrl-C (after SIGKILL, `git worktree prune` drops its leftover entry).
 *
 *   deno task bench:compare 8f59feb    # scenario 3, N 20,000, median of 5, Deno, Bun and Node
 *   deno task bench:short --baseline main
 *
 * With N 2,000 a processing run takes tens of milliseconds, so a single ratio is mostly noise;
 * `bench:compare` uses N 20,000 and 5 rounds. Other options may follow the ref:
 * `deno task bench:compare 8f59feb --repeat 9`.
 *
 * @module
 */
import { cpus, loadavg, release, totalmem } from "node:os";
import { createClient } from "redis";
import { secondsSince } from "./bench/common.ts";
import { cliArgs } from "./cli_args.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const BENCH_DIR = `${ROOT}/scripts/bench`;

// ---------------------------------------------------------------- options

interface Options {
  short: boolean;
  json: string;
  scenarios: number[];
  contenders: string[] | undefined;
  n: number;
  latencyN: number;
  latencyWarmup: number;
  /** Calls per request-response run (scenario 7), over all its producers. */
  rrN: number;
  /** Repetitions of each throughput step (scenarios 1–3); the median is reported. */
  repeat: number;
  memoryTotal: number;
  memorySample: number;
  redisUrl: string | undefined;
  /** The git ref to measure as a baseline in the same run (`--baseline`). */
  baseline: string | undefined;
  /** Environment of the current tree's QTasks drivers only (`--current-env`). */
  currentEnv: Record<string, string>;
  install: boolean;
  verbose: boolean;
}

const USAGE = "usage: deno run -A scripts/bench.ts [--short] [--json FILE] [--scenarios 1,3] " +
  "[--contenders qtasks-deno,bullmq] [--n N] [--latency-n N] [--rr-n N] [--memory-n N] " +
  "[--repeat R] " +
  "[--redis-url URL] [--baseline REF] [--current-env KEY=VALUE] " +
  "[--no-install] [--verbose]";

/** Calls in flight in scenario 1 (like a web server), and the worker concurrencies. */
const ENQUEUE_CONCURRENCY = 100;
const PROCESS_CONCURRENCY = [100, 1];
const LATENCY_WORKER_CONCURRENCY = 10;
const MEMORY_CONCURRENCY = 100;

/**
 * Scenario 7, request-response: calls in flight over all producers, the producer processes, the
 * worker's concurrency, the argument's size and the longest wait for one call's result.
 */
const RR_VARIANTS = [
  { key: "rr-c200", calls: 200, producers: 1 },
  { key: "rr-c1000", calls: 1_000, producers: 1 },
  { key: "rr-c200-p4", calls: 200, producers: 4 },
] as const;
const RR_WORKER_CONCURRENCY = 100;
const RR_PAYLOAD_BYTES = 1024;
const RR_WAIT_MS = 10_000;

function parseOptions(argv: string[]): Options {
  const short = argv.includes("--short");
  const options: Options = {
    short,
    json: ".bench/bench.json",
    scenarios: [1, 2, 3, 4, 5, 6, 7],
    contenders: undefined,
    n: short ? 2_000 : 20_000,
    latencyN: short ? 200 : 1_000,
    latencyWarmup: short ? 20 : 50,
    rrN: short ? 2_000 : 10_000,
    repeat: short ? 1 : 3,
    memoryTotal: short ? 100_000 : 1_000_000,
    memorySample: 0,
    redisUrl: undefined,
    baseline: undefined,
    currentEnv: {},
    install: true,
    verbose: false,
  };
  for (const { arg, flag, value } of cliArgs(argv, USAGE)) {
    const count = () => {
      const number = Number(value().replaceAll("_", "").replaceAll(",", ""));
      if (!Number.isSafeInteger(number) || number < 1) {
        throw new Error(`${flag} needs a positive integer`);
      }
      return number;
    };
    if (flag === "--short") continue;
    else if (flag === "--json") options.json = value();
    else if (flag === "--n") options.n = count();
    else if (flag === "--latency-n") options.latencyN = count();
    else if (flag === "--rr-n") options.rrN = count();
    else if (flag === "--repeat") options.repeat = count();
    else if (flag === "--memory-n") options.memoryTotal = count();
    else if (flag === "--redis-url") options.redisUrl = value();
    else if (flag === "--baseline") options.baseline = value();
    else if (flag === "--current-env") {
      const pair = value();
      const equals = pair.indexOf("=");
      if (equals < 1) throw new Error(`--current-env needs KEY=VALUE, got "${pair}"`);
      options.currentEnv[pair.slice(0, equals)] = pair.slice(equals + 1);
    } else if (flag === "--no-install") options.install = false;
    else if (flag === "--verbose") options.verbose = true;
    else if (flag === "--scenarios") {
      options.scenarios = value().split(",").map((part) => {
        const id = Number(part.trim());
        if (!SCENARIOS.some((s) => s.id === id)) {
          throw new Error(`--scenarios: no scenario ${part}`);
        }
        return id;
      });
    } else if (flag === "--contenders") {
      options.contenders = value().split(",").map((part) => part.trim());
      for (const id of options.contenders) {
        if (!CONTENDER_IDS.includes(id)) {
          throw new Error(`--contenders: unknown ${id} (one of ${CONTENDER_IDS.join(", ")})`);
        }
      }
    } else if (flag === "--help" || flag === "-h") {
      console.log(USAGE);
      Deno.exit(0);
    } else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  // Two checkpoints: after a tenth of the total (100k of 1M; short: 20k of 100k, a fifth) and
  // at the end, with samples in between.
  options.memorySample = Math.max(1, Math.round(options.memoryTotal / (short ? 5 : 10)));
  return options;
}

/** Longest one driver run may take before it is killed and reported as timed out. */
function stepTimeoutMs(
  options: Options,
  kind: "step" | "latency" | "memory" | "rr",
): number {
  if (kind === "memory") return Math.max(120_000, options.memoryTotal * 0.6);
  if (kind === "rr") return Math.max(90_000, options.rrN * 10);
  if (kind === "latency") return options.short ? 120_000 : 300_000;
  return options.short ? 60_000 : Math.max(120_000, options.n * 6);
}

// ---------------------------------------------------------------- child processes

const children = new Set<Deno.ChildProcess>();
/** Synchronous clean-ups run after the children are killed (the baseline checkout's removal). */
const cleanUps: Array<() => void> = [];

/** Kills every child process, then runs the clean-ups (each once). */
function cleanUpAll(): void {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
  children.clear();
  for (let cleanUp; (cleanUp = cleanUps.pop());) {
    try {
      cleanUp();
    } catch (error) {
      console.error(`bench: clean-up failed: ${(error as Error).message}`);
    }
  }
}

interface Outcome {
  code: number | null;
  result: Record<string, unknown> | undefined;
  samples: Record<string, unknown>[];
  stderrTail: string[];
  timedOut: boolean;
  seconds: number;
}

/** Splits a byte stream into lines without copying the rest of the buffer per line. */
async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of stream) {
    buffer += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let index; (index = buffer.indexOf("\n", start)) >= 0; start = index + 1) {
      onLine(buffer.slice(start, index));
    }
    buffer = buffer.slice(start);
  }
  buffer += decoder.decode();
  if (buffer) onLine(buffer);
}

/** One driver process: its `BENCH_*` lines parsed, its stderr's tail kept for errors. */
class Driver {
  readonly label: string;
  readonly ready: Promise<void>;
  readonly done: Promise<Outcome>;
  #child: Deno.ChildProcess;
  #timedOut = false;
  #stdin: boolean;

  constructor(
    label: string,
    command: string[],
    verbose: boolean,
    cwd: string = ROOT,
    stdin = false,
    env: Record<string, string> = {},
  ) {
    this.label = label;
    this.#stdin = stdin;
    const started = performance.now();
    this.#child = new Deno.Command(command[0], {
      args: command.slice(1),
      cwd,
      stdin: stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      env: { ...env, NO_COLOR: "1" },
    }).spawn();
    const child = this.#child;
    children.add(child);
    let result: Record<string, unknown> | undefined;
    const samples: Record<string, unknown>[] = [];
    const stderrTail: string[] = [];
    let markReady: () => void = () => {};
    let failReady: (error: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    this.ready.catch(() => {});
    const echo = (line: string) => verbose && console.error(`  [${label}] ${line}`);
    const stdout = readLines(child.stdout, (line) => {
      echo(line);
      if (line === "BENCH_READY") markReady();
      else if (line.startsWith("BENCH_RESULT ")) result = JSON.parse(line.slice(13));
      else if (line.startsWith("BENCH_SAMPLE ")) samples.push(JSON.parse(line.slice(13)));
    });
    const stderr = readLines(child.stderr, (line) => {
      echo(line);
      stderrTail.push(line);
      if (stderrTail.length > 25) stderrTail.shift();
    });
    this.done = (async () => {
      const status = await child.status;
      await Promise.allSettled([stdout, stderr]);
      children.delete(child);
      failReady(new Error(`${label} exited (code ${status.code}) before it was ready`));
      return {
        code: status.signal ? null : status.code,
        result,
        samples,
        stderrTail,
        timedOut: this.#timedOut,
        seconds: secondsSince(started),
      };
    })();
  }

  /** The process id (its CPU time is read from /proc). */
  get pid(): number {
    return this.#child.pid;
  }

  /** Writes the start line to a driver started with `stdin` (request-response producers). */
  async go(): Promise<void> {
    if (!this.#stdin) throw new Error(`${this.label} has no stdin`);
    const writer = this.#child.stdin.getWriter();
    try {
      await writer.write(new TextEncoder().encode("GO\n"));
    } finally {
      writer.releaseLock();
    }
  }

  kill(): void {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }

  /** Waits for the exit, killing the process after `timeoutMs`. */
  async wait(timeoutMs: number): Promise<Outcome> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const first = await Promise.race([this.done, timeout]);
    clearTimeout(timer);
    if (first === "timeout") {
      this.#timedOut = true;
      this.kill();
    }
    return await this.done;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 3_000): Promise<Outcome> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
    await Promise.race([this.done, grace]);
    clearTimeout(timer);
    this.kill();
    return await this.done;
  }

  /** Waits for `BENCH_READY`, failing after `timeoutMs` or when the process exits first. */
  async waitReady(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.label} was not ready within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The error of a finished driver run, or undefined when it printed its result and exited 0. */
function failure(outcome: Outcome, timeoutMs?: number): string | undefined {
  if (outcome.timedOut) {
    return `timed out after ${((timeoutMs ?? 0) / 1000).toFixed(0)} s` +
      (outcome.stderrTail.length ? `: ${outcome.stderrTail.slice(-3).join(" | ")}` : "");
  }
  if (outcome.code === 0 && outcome.result) return undefined;
  const tail = outcome.stderrTail.filter((line) => line.trim() !== "").slice(-6).join(" | ");
  return `exit ${outcome.code ?? "by signal"}${outcome.result ? "" : ", no result"}` +
    (tail ? `: ${tail}` : "");
}

async function commandOutput(command: string, args: string[]): Promise<string> {
  try {
    const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
      .output();
    return new TextDecoder().decode(output.success ? output.stdout : output.stderr).trim();
  } catch (error) {
    return `unavailable (${(error as Error).message})`;
  }
}

// ---------------------------------------------------------------- contenders

type Lib = "qtasks" | "bullmq" | "bee-queue";

interface Contender {
  id: string;
  lib: Lib;
  runtime: "deno" | "bun" | "node";
  label: string;
  command: string[];
  version: string;
  /** Why it cannot run, if it cannot. */
  unavailable?: string;
  /** Where the command runs (default: this tree's root). */
  cwd?: string;
  /** For a baseline contender (`--baseline`): the id of its twin from the current tree. */
  baselineOf?: string;
  /** Extra environment of its driver (`--current-env`, current QTasks contenders only). */
  env?: Record<string, string>;
}

/** QTasks from the current tree (not a baseline, not a peer). */
function isOurs(contender: Contender): boolean {
  return contender.lib === "qtasks" && contender.baselineOf === undefined;
}

const CONTENDER_IDS = ["qtasks-deno", "qtasks-bun", "qtasks-node", "bullmq", "bee-queue"];

interface Tools {
  bun: string | undefined;
  node: string | undefined;
  error?: string;
}

/** The pinned Bun and Node 24 (scripts/tools.sh installs them if needed). */
async function findTools(): Promise<Tools> {
  const output = await new Deno.Command("bash", {
    args: [`${ROOT}/scripts/tools.sh`],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr).trim();
  if (stderr) console.error(stderr);
  const bin = new TextDecoder().decode(output.stdout).trim().split("\n").pop() ?? "";
  if (!output.success || !bin) {
    return {
      bun: undefined,
      node: undefined,
      error: `scripts/tools.sh failed: ${stderr.split("\n").slice(-3).join(" | ")}`,
    };
  }
  const exists = (path: string) => {
    try {
      return Deno.statSync(path).isFile ? path : undefined;
    } catch {
      return undefined;
    }
  };
  return { bun: exists(`${bin}/bun`), node: exists(`${bin}/node`) };
}

interface PeerInstall {
  /** Pinned versions from scripts/bench/package.json. */
  pinned: Record<string, string>;
  /** Installed version per package, or undefined. */
  installed: Record<string, string | undefined>;
  /** The npm install's error, if it ran and failed. */
  error?: string;
  ranInstall: boolean;
}

function installedVersion(name: string): string | undefined {
  try {
    const text = Deno.readTextFileSync(`${BENCH_DIR}/node_modules/${name}/package.json`);
    return (JSON.parse(text) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** Installs the peers from scripts/bench/package.json unless they are there at their pins. */
async function installPeers(install: boolean): Promise<PeerInstall> {
  const manifest = JSON.parse(Deno.readTextFileSync(`${BENCH_DIR}/package.json`)) as {
    devDependencies: Record<string, string>;
  };
  const pinned = manifest.devDependencies;
  const check = () =>
    Object.fromEntries(Object.keys(pinned).map((name) => [name, installedVersion(name)]));
  let installed = check();
  const missing = Object.keys(pinned).filter((name) => installed[name] !== pinned[name]);
  const state: PeerInstall = { pinned, installed, ranInstall: false };
  if (missing.length === 0 || !install) return state;
  console.error(`peers: npm install ${missing.map((m) => `${m}@${pinned[m]}`).join(" ")}`);
  state.ranInstall = true;
  try {
    const child = new Deno.Command("npm", {
      args: [
        "install",
        "--no-package-lock",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        "--prefix",
        BENCH_DIR,
      ],
      cwd: BENCH_DIR,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    children.add(child);
    const timer = setTimeout(() => child.kill("SIGKILL"), 300_000);
    const output = await child.output();
    clearTimeout(timer);
    children.delete(child);
    if (!output.success) {
      const lines = new TextDecoder().decode(output.stderr).trim().split("\n");
      const codes = lines.filter((line) =>
        /npm (error|ERR!) (code|errno|request|network)/.test(line)
      );
      const text = (codes.length ? codes : lines).slice(0, 4).map((line) => line.trim());
      state.error = `npm install failed (exit ${output.code}): ${text.join(" | ")}`;
    }
  } catch (error) {
    state.error = `npm install could not run: ${(error as Error).message}`;
  }
  installed = check();
  state.installed = installed;
  if (state.error) console.error(`peers: ${state.error}`);
  return state;
}

function buildContenders(tools: Tools, peers: PeerInstall, only?: string[]): Contender[] {
  const qtasksVersion = (JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`)) as {
    version: string;
  }).version;
  const driver = (file: string) => `scripts/bench/${file}`;
  const node = tools.node ?? "node";
  const peerProblem = (names: string[]) => {
    const bad = names.filter((name) => peers.installed[name] !== peers.pinned[name]);
    if (bad.length === 0) return undefined;
    const what = bad.map((name) =>
      `${name}@${peers.pinned[name]} ${
        peers.installed[name] ? `(found ${peers.installed[name]})` : "not installed"
      }`
    ).join(", ");
    return `${what}${peers.error ? `; ${peers.error}` : " (run without --no-install)"}`;
  };
  const all: Contender[] = [
    {
      id: "qtasks-deno",
      lib: "qtasks",
      runtime: "deno",
      label: "qtasks·deno",
      command: [Deno.execPath(), "run", "-A", "--v8-flags=--expose-gc", driver("qtasks.ts")],
      version: qtasksVersion,
    },
    {
      id: "qtasks-bun",
      lib: "qtasks",
      runtime: "bun",
      label: "qtasks·bun",
      command: [tools.bun ?? "bun", driver("qtasks.ts")],
      version: qtasksVersion,
      unavailable: tools.bun ? undefined : `bun not found (${tools.error ?? "scripts/tools.sh"})`,
    },
    {
      id: "qtasks-node",
      lib: "qtasks",
      runtime: "node",
      label: "qtasks·node",
      command: [node, "--expose-gc", driver("qtasks.ts")],
      version: qtasksVersion,
      unavailable: tools.node ? undefined : `node not found (${tools.error ?? "scripts/tools.sh"})`,
    },
    {
      id: "bullmq",
      lib: "bullmq",
      runtime: "node",
      label: "bullmq·node",
      command: [node, driver("bullmq.ts")],
      version: peers.installed.bullmq ?? peers.pinned.bullmq,
      unavailable: tools.node ? peerProblem(["bullmq", "ioredis"]) : "node not found",
    },
    {
      id: "bee-queue",
      lib: "bee-queue",
      runtime: "node",
      label: "bee-queue·node",
      command: [node, driver("bee_queue.ts")],
      version: peers.installed["bee-queue"] ?? peers.pinned["bee-queue"],
      unavailable: tools.node ? peerProblem(["bee-queue"]) : "node not found",
    },
  ];
  return all.filter((c) => !only || only.includes(c.id));
}

// ---------------------------------------------------------------- baseline (--baseline REF)

/** The QTasks tree at a git ref, checked out for `--baseline`. */
interface Baseline {
  /** The ref as given. */
  ref: string;
  /** The commit it names (40 hex digits). */
  commit: string;
  /** Its name in labels (`qtasks·deno@<tag>`): the ref when short and plain, else the commit's. */
  tag: string;
  /** The commit's subject line. */
  subject: string;
  /** The checkout (a detached git worktree in a temporary folder). */
  dir: string;
  /** How the checkout got its npm packages. */
  nodeModules: string;
  /** Whose QTasks driver runs the checkout: its own, or this tree's (see checkOutBaseline). */
  driver: string;
}

async function git(args: string[]): Promise<string> {
  const output = await new Deno.Command("git", {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();
  if (!output.success) throw new Error(`git ${args.join(" ")}: ${decode(output.stderr)}`);
  return decode(output.stdout);
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function npmImports(dir: string): string | undefined {
  try {
    const config = JSON.parse(Deno.readTextFileSync(`${dir}/deno.json`)) as { imports?: unknown };
    return JSON.stringify(config.imports ?? {});
  } catch {
    return undefined;
  }
}

/**
 * Checks out `ref` with `git worktree add --detach` in a temporary folder (removed by
 * {@linkcode cleanUpAll}) and gives it npm packages: symlinks to this tree's node_modules and
 * scripts/tools/node_modules when its deno.json has the same imports, else `deno install`.
 */
async function checkOutBaseline(ref: string, log: (message: string) => void): Promise<Baseline> {
  let commit: string;
  try {
    commit = await git(["rev-parse", "--verify", "--end-of-options", `${ref}^{commit}`]);
  } catch {
    throw new Error(`--baseline: no commit "${ref}" in this repository`);
  }
  const short = await git(["rev-parse", "--short", commit]);
  const subject = await git(["log", "-1", "--format=%s", commit]);
  const tag = /^[\w.-]{1,20}$/.test(ref) ? ref : short;
  const tmp = await Deno.makeTempDir({ prefix: "qtasks-bench-baseline-" });
  const dir = `${tmp}/qtasks`;
  const links: string[] = [];
  cleanUps.push(() => {
    // The links first, so that nothing below follows them into this tree's packages.
    for (const link of links) {
      try {
        Deno.removeSync(link);
      } catch {
        // Already gone.
      }
    }
    const removed = new Deno.Command("git", {
      args: ["worktree", "remove", "--force", dir],
      cwd: ROOT,
      stdout: "null",
      stderr: "null",
    }).outputSync();
    try {
      Deno.removeSync(tmp, { recursive: true });
    } catch {
      // Already gone.
    }
    if (!removed.success) {
      new Deno.Command("git", { args: ["worktree", "prune"], cwd: ROOT, stderr: "null" })
        .outputSync();
    }
  });
  log(`baseline: git worktree add --detach ${dir} ${short} (${ref})`);
  await git(["worktree", "add", "--detach", "--quiet", dir, commit]);
  let nodeModules: string;
  const imports = npmImports(dir);
  if (imports !== undefined && imports === npmImports(ROOT)) {
    for (const path of ["node_modules", "scripts/tools/node_modules"]) {
      const parent = `${dir}/${path}`.slice(0, `${dir}/${path}`.lastIndexOf("/"));
      if (!exists(`${ROOT}/${path}`) || exists(`${dir}/${path}`) || !exists(parent)) continue;
      Deno.symlinkSync(Deno.realPathSync(`${ROOT}/${path}`), `${dir}/${path}`);
      links.push(`${dir}/${path}`);
    }
    nodeModules = `symlinks to this tree's ${
      links.map((link) => link.slice(dir.length + 1)).join(" and ")
    }`;
  } else {
    log("baseline: its deno.json has other npm imports: deno install in the checkout");
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["install", "--quiet"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      const text = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-3);
      throw new Error(`--baseline: deno install in the checkout failed: ${text.join(" | ")}`);
    }
    nodeModules = "its own (deno install)";
  }
  // A checkout whose driver predates the request-response mode (scenario 7) gets this tree's
  // driver (scripts/bench/common.ts and qtasks.ts), which imports the checkout's own src/.
  let driver = "its own scripts/bench/qtasks.ts";
  const common = `${dir}/scripts/bench/common.ts`;
  if (exists(common) && !Deno.readTextFileSync(common).includes('"rr"')) {
    for (const file of ["common.ts", "qtasks.ts"]) {
      Deno.copyFileSync(`${BENCH_DIR}/${file}`, `${dir}/scripts/bench/${file}`);
    }
    driver = "this tree's scripts/bench/common.ts and qtasks.ts (its own predates scenario 7)";
  }
  return { ref, commit, tag, subject, dir, nodeModules, driver };
}

/**
 * The current tree's QTasks contenders, each followed by its baseline twin: the same command
 * run in the checkout (so the checkout's own driver and src/).
 */
function withBaseline(contenders: Contender[], baseline: Baseline): Contender[] {
  let version = "?";
  try {
    version = (JSON.parse(Deno.readTextFileSync(`${baseline.dir}/deno.json`)) as {
      version?: string;
    }).version ?? "?";
  } catch {
    // Reported as unavailable below (no driver) or shown as "?".
  }
  const hasDriver = exists(`${baseline.dir}/scripts/bench/qtasks.ts`);
  return contenders.flatMap((c): Contender[] =>
    c.lib !== "qtasks" ? [c] : [c, {
      ...c,
      id: `${c.id}@${baseline.tag}`,
      label: `${c.label}@${baseline.tag}`,
      version: `${version} (${baseline.commit.slice(0, 7)})`,
      cwd: baseline.dir,
      baselineOf: c.id,
      env: undefined,
      unavailable: c.unavailable ??
        (hasDriver ? undefined : `${baseline.ref} has no scripts/bench/qtasks.ts`),
    }]
  );
}

/**
 * The contenders in the order of one round: each baseline twin right after its current
 * contender in even rounds, right before it in odd ones.
 */
function roundOrder(contenders: Contender[], round: number): Contender[] {
  const order = [...contenders];
  if (round % 2 === 0) return order;
  for (let i = 0; i + 1 < order.length; i++) {
    if (order[i + 1].baselineOf === order[i].id) {
      [order[i], order[i + 1]] = [order[i + 1], order[i]];
      i++;
    }
  }
  return order;
}

// ---------------------------------------------------------------- Redis

/** The few admin commands the orchestrator sends (node-redis underneath). */
interface RedisClient {
  info(section: string): Promise<string>;
  infoSections(sections: string[]): Promise<string>;
  flushAll(): Promise<unknown>;
  flushDb(): Promise<unknown>;
  close(): Promise<void>;
}

async function connectAdmin(url: string, log: (message: string) => void): Promise<RedisClient> {
  const client = createClient({ url });
  client.on("error", (error: Error) => log(`admin redis client: ${error.message}`));
  await client.connect();
  return {
    info: (section) => client.info(section),
    infoSections: async (sections) => String(await client.sendCommand(["INFO", ...sections])),
    flushAll: () => client.flushAll(),
    flushDb: () => client.flushDb(),
    close: () => client.close(),
  };
}

interface RedisTarget {
  url: string;
  host: string;
  port: number;
  db: number;
  private: boolean;
}

/** Starts a private redis-server on a free port (no persistence), killed at exit. */
async function startRedisServer(): Promise<{ target: RedisTarget; version: string }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const dir = await Deno.makeTempDir({ prefix: "qtasks-bench-redis-" });
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        "--loglevel",
        "warning",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    throw new Error(
      `cannot start redis-server (${(error as Error).message}); install it or pass --redis-url`,
    );
  }
  children.add(child);
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // Already gone.
    }
  });
  const url = `redis://127.0.0.1:${port}/0`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const version = await commandOutput("redis-server", ["--version"]);
  return { target: { url, host: "127.0.0.1", port, db: 0, private: true }, version };
}

function parseTarget(url: string, isPrivate: boolean): RedisTarget {
  const parsed = new URL(url);
  return {
    url,
    host: parsed.hostname || "127.0.0.1",
    port: Number(parsed.port || 6379),
    db: Number(parsed.pathname.replace(/^\//, "") || 0),
    private: isPrivate,
  };
}

/** INFO commandstats as calls per command name. */
interface StatsSnapshot {
  calls: Map<string, number>;
  /** used_cpu_sys + used_cpu_user of the server, in seconds. */
  cpuSeconds: number;
}

/** INFO commandstats (calls per command name) and the server's CPU time, in one INFO call. */
async function commandStats(client: RedisClient): Promise<StatsSnapshot> {
  const text = await client.infoSections(["commandstats", "cpu"]);
  const calls = new Map<string, number>();
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls.set(match[1], Number(match[2]));
  }
  const cpu = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(text)?.[1] ?? 0);
  return { calls, cpuSeconds: cpu("used_cpu_sys") + cpu("used_cpu_user") };
}

/**
 * Calls per command between two snapshots, without the benchmark's own admin commands (the
 * INFO that took the first snapshot, and MONITOR), and the Redis server's CPU time meanwhile
 * (with a private server: all of it spent on the contender, networking included).
 */
function statsDelta(after: StatsSnapshot, before: StatsSnapshot) {
  const delta: Record<string, number> = {};
  for (const [name, calls] of after.calls) {
    const diff = calls - (before.calls.get(name) ?? 0) - (name === "info" ? 1 : 0);
    if (diff > 0 && name !== "monitor") delta[name] = diff;
  }
  const total = Object.values(delta).reduce((a, b) => a + b, 0);
  const redisCpuMs = Math.max(0, after.cpuSeconds - before.cpuSeconds) * 1000;
  return { total, redisCpuMs, byCommand: sortDesc(delta) };
}

/** Calls per command over one step (see {@linkcode statsDelta}). */
type Commands = ReturnType<typeof statsDelta>;

function sortDesc(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1]));
}

/**
 * MONITOR through redis-cli: counts the commands clients sent and the commands run inside Lua
 * scripts (`[db lua]` lines) in one database, by name.
 */
class Monitor {
  client = 0;
  lua = 0;
  byClientCommand: Record<string, number> = {};
  #child: Deno.ChildProcess;
  #lastLine = performance.now();
  #reading: Promise<void>;
  #ok: Promise<void>;

  constructor(target: RedisTarget) {
    this.#child = new Deno.Command("redis-cli", {
      args: ["-u", target.url, "monitor"],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    children.add(this.#child);
    let ok: () => void = () => {};
    this.#ok = new Promise((resolve) => ok = resolve);
    const db = String(target.db);
    this.#reading = readLines(this.#child.stdout, (line) => {
      this.#lastLine = performance.now();
      if (line === "OK") return ok();
      const open = line.indexOf("[");
      const close = line.indexOf("]", open);
      if (open < 0 || close < 0) return;
      const space = line.indexOf(" ", open);
      if (line.slice(open + 1, space) !== db) return;
      if (line.slice(space + 1, close) === "lua") {
        this.lua++;
        return;
      }
      this.client++;
      const quote = line.indexOf('"', close);
      const name = line.slice(quote + 1, line.indexOf('"', quote + 1)).toLowerCase();
      this.byClientCommand[name] = (this.byClientCommand[name] ?? 0) + 1;
    });
  }

  async started(timeoutMs = 5_000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#ok,
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error("redis-cli monitor did not start")), timeoutMs)
      ),
    ]).finally(() => clearTimeout(timer));
  }

  /** Stops once no line came for 300 ms (the stream has caught up), at most after 30 s. */
  async stop(): Promise<{ client: number; lua: number; byClientCommand: Record<string, number> }> {
    const deadline = performance.now() + 30_000;
    while (performance.now() - this.#lastLine < 300 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await this.#child.status;
    await this.#reading.catch(() => {});
    children.delete(this.#child);
    return { client: this.client, lua: this.lua, byClientCommand: sortDesc(this.byClientCommand) };
  }
}

// ---------------------------------------------------------------- scenarios

interface RunRecord {
  ok: boolean;
  error?: string;
  /** The driver's result line (and extra figures added here). */
  result?: Record<string, unknown>;
  seconds: number;
}

interface Context {
  options: Options;
  target: RedisTarget;
  admin: RedisClient;
  contenders: Contender[];
  /** runs[scenario key][contender id] */
  runs: Record<string, Record<string, RunRecord>>;
  /** Repetitions of throughput steps not yet reduced to their median. */
  repetitions: Record<string, Record<string, Repetition[]>>;
  log: (message: string) => void;
  /** The tree measured beside the current one (`--baseline`). */
  baseline?: Baseline;
}

interface Scenario {
  id: number;
  name: string;
  /** Whether the peers take part (scenario 6 is ours only). */
  peers: boolean;
  /** Run in `--repeat` rounds over all contenders (throughput steps). */
  repeated?: boolean;
  run(ctx: Context, contender: Contender, round: number): Promise<void>;
}

function driverArgs(ctx: Context, fields: Record<string, string | number>): string[] {
  const args: Record<string, string | number> = {
    url: ctx.target.url,
    queue: "qtasks-bench",
    ...fields,
  };
  return Object.entries(args).flatMap(([name, value]) => [`--${name}`, String(value)]);
}

async function flush(ctx: Context): Promise<void> {
  if (ctx.target.private) await ctx.admin.flushAll();
  else await ctx.admin.flushDb();
}

function record(ctx: Context, key: string, contender: Contender, run: RunRecord): void {
  (ctx.runs[key] ??= {})[contender.id] = run;
  const what = run.ok
    ? Object.entries(run.result ?? {})
      .filter(([k, v]) => typeof v === "number" && !["n", "concurrency", "warmup"].includes(k))
      .slice(0, 4)
      .map(([k, v]) => `${k}=${format(v as number, 2)}`)
      .join(" ") +
      (Array.isArray(run.result?.repeats) && run.result.repeats.length > 1
        ? ` repeats=${(run.result.repeats as number[]).map((v) => format(v, 0)).join("/")}`
        : "")
    : `FAILED: ${run.error}`;
  ctx.log(`${key} ${contender.label}: ${what} (${run.seconds.toFixed(1)} s)`);
}

/** Starts the contender's driver for one step (`fields.mode`), labelled with both. */
function startDriver(
  ctx: Context,
  contender: Contender,
  fields: Record<string, string | number>,
  stdin = false,
): Driver {
  return new Driver(
    `${contender.label} ${fields.mode}${stdin ? ` ${fields.n}` : ""}`,
    [...contender.command, ...driverArgs(ctx, fields)],
    ctx.options.verbose,
    contender.cwd,
    stdin,
    contender.env,
  );
}

/**
 * Records a background driver that failed before it was ready (or whose run threw): `what`
 * failed, then why the driver ended, which is stopped first.
 */
async function recordBroken(
  ctx: Context,
  key: string,
  contender: Contender,
  driver: Driver,
  what: string,
  started: number,
): Promise<void> {
  const outcome = await driver.stop();
  record(ctx, key, contender, {
    ok: false,
    error: `${what}; ${failure(outcome) ?? ""}`,
    seconds: secondsSince(started),
  });
}

/** Runs one driver step to its end; `measure` wraps it with INFO commandstats snapshots. */
async function step(
  ctx: Context,
  contender: Contender,
  fields: Record<string, string | number>,
  measure: boolean,
): Promise<{ outcome: Outcome; error?: string; commands?: Commands }> {
  const timeoutMs = stepTimeoutMs(ctx.options, "step");
  const before = measure ? await commandStats(ctx.admin) : undefined;
  const outcome = await startDriver(ctx, contender, fields).wait(timeoutMs);
  const error = failure(outcome, timeoutMs);
  const commands = before && !error ? statsDelta(await commandStats(ctx.admin), before) : undefined;
  return { outcome, error, commands };
}

function perTask(commands: { total: number } | undefined, n: number): number | undefined {
  return commands ? commands.total / n : undefined;
}

/** Redis server CPU per task, in microseconds. */
function cpuPerTask(commands: { redisCpuMs: number } | undefined, n: number): number | undefined {
  return commands ? (commands.redisCpuMs * 1000) / n : undefined;
}

interface Repetition {
  result: Record<string, unknown>;
  commands?: Commands;
  rate: number;
  seconds: number;
}

/**
 * One repetition of a throughput step (scenarios 1–3). The rounds of repetitions go over every
 * contender in turn (round 1 for all, then round 2 …), so a change in the machine's background
 * load hits every contender alike; {@linkcode finishRepetitions} then records the median rate.
 * A contender whose repetition failed is recorded as failed and skipped in later rounds.
 */
async function repeated(
  ctx: Context,
  key: string,
  contender: Contender,
  round: number,
  once: () => Promise<{ outcome: Outcome; error?: string; commands?: Commands }>,
): Promise<void> {
  const reps = (ctx.repetitions[key] ??= {})[contender.id] ??= [];
  if (ctx.runs[key]?.[contender.id]?.ok === false) return;
  const { outcome, error, commands } = await once();
  if (error || !outcome.result) {
    record(ctx, key, contender, {
      ok: false,
      error: `${ctx.options.repeat > 1 ? `repetition ${round + 1}: ` : ""}${error}`,
      seconds: outcome.seconds,
    });
    return;
  }
  const rate = Number(outcome.result.perSecond);
  reps.push({ result: outcome.result, commands, rate, seconds: outcome.seconds });
  if (ctx.options.repeat > 1) {
    ctx.log(
      `${key} ${contender.label} repetition ${round + 1}: ${format(rate, 0)}/s ` +
        `(${outcome.seconds.toFixed(1)} s)`,
    );
  }
}

/**
 * One repetition of a measured step on a flushed Redis (scenarios 1–3), after the untimed
 * `setup` step if given (its error is reported as `<setup mode>: …`).
 */
async function repeatedStep(
  ctx: Context,
  key: string,
  contender: Contender,
  round: number,
  fields: Record<string, string | number>,
  setup?: Record<string, string | number>,
): Promise<void> {
  await repeated(ctx, key, contender, round, async () => {
    await flush(ctx);
    if (setup) {
      const prepared = await step(ctx, contender, setup, false);
      if (prepared.error) {
        return { outcome: prepared.outcome, error: `${setup.mode}: ${prepared.error}` };
      }
    }
    return await step(ctx, contender, fields, true);
  });
}

/** Records the repetition with the median rate of each contender (all rates in `repeats`). */
function finishRepetitions(ctx: Context): void {
  for (const [key, byContender] of Object.entries(ctx.repetitions)) {
    for (const [id, reps] of Object.entries(byContender)) {
      const contender = ctx.contenders.find((c) => c.id === id)!;
      if (reps.length === 0 || ctx.runs[key]?.[id]?.ok === false) continue;
      const n = Number(reps[0].result.n);
      const median = [...reps].sort((a, b) => a.rate - b.rate)[Math.floor(reps.length / 2)];
      record(ctx, key, contender, {
        ok: true,
        seconds: reps.reduce((sum, rep) => sum + rep.seconds, 0),
        result: {
          ...median.result,
          commandsPerTask: perTask(median.commands, n),
          redisCpuUsPerTask: cpuPerTask(median.commands, n),
          commands: median.commands,
          repeats: reps.map((r) => r.rate),
        },
      });
    }
  }
  ctx.repetitions = {};
}

/** Scenario 4: enqueue-then-await latency, the worker in another process. */
async function latencyScenario(ctx: Context, contender: Contender): Promise<void> {
  const n = ctx.options.latencyN;
  await flush(ctx);
  const worker = startDriver(ctx, contender, {
    mode: "worker",
    n: 0,
    concurrency: LATENCY_WORKER_CONCURRENCY,
  });
  const started = performance.now();
  try {
    await worker.waitReady(30_000);
  } catch (error) {
    const what = `worker: ${(error as Error).message}`;
    await recordBroken(ctx, "latency", contender, worker, what, started);
    return;
  }
  const timeoutMs = stepTimeoutMs(ctx.options, "latency");
  const before = await commandStats(ctx.admin);
  const producer = startDriver(ctx, contender, {
    mode: "latency",
    n,
    warmup: ctx.options.latencyWarmup,
  });
  const outcome = await producer.wait(timeoutMs);
  const error = failure(outcome, timeoutMs);
  const commands = error ? undefined : statsDelta(await commandStats(ctx.admin), before);
  const workerOutcome = await worker.stop();
  const workerDied = workerOutcome.code !== 0 && workerOutcome.code !== null &&
    workerOutcome.code !== 143;
  record(ctx, "latency", contender, {
    ok: !error,
    error: error && (workerDied ? `${error}; worker: ${failure(workerOutcome)}` : error),
    seconds: outcome.seconds,
    result: outcome.result && {
      ...outcome.result,
      // Every round trip, warm-up included: enqueue, claim, settle, await.
      commandsPerTask: perTask(commands, n + ctx.options.latencyWarmup),
      redisCpuUsPerTask: cpuPerTask(commands, n + ctx.options.latencyWarmup),
      commands,
    },
  });
}

/** Scenario 5: Redis commands per task, INFO commandstats and a replica of 1 + 3 under MONITOR. */
async function commandsScenario(ctx: Context, contender: Contender): Promise<void> {
  const n = ctx.options.n;
  await flush(ctx);
  const phases: Record<string, unknown> = {};
  let seconds = 0;
  for (
    const [phase, fields] of [
      ["enqueue", { mode: "enqueue", n, concurrency: ENQUEUE_CONCURRENCY }],
      ["process", { mode: "process", n, concurrency: 100 }],
    ] as const
  ) {
    const before = await commandStats(ctx.admin);
    const monitor = new Monitor(ctx.target);
    await monitor.started();
    const { outcome, error } = await step(ctx, contender, fields, false);
    const counted = await monitor.stop();
    seconds += outcome.seconds;
    if (error) {
      record(ctx, "commands", contender, { ok: false, error: `${phase}: ${error}`, seconds });
      return;
    }
    const stats = statsDelta(await commandStats(ctx.admin), before);
    phases[phase] = {
      clientPerTask: counted.client / n,
      luaPerTask: counted.lua / n,
      monitorTotalPerTask: (counted.client + counted.lua) / n,
      commandstatsTotalPerTask: stats.total / n,
      perSecondUnderMonitor: outcome.result?.perSecond,
      clientCommands: counted.byClientCommand,
      commands: stats,
    };
  }
  const enqueue = phases.enqueue as Record<string, number>;
  const processing = phases.process as Record<string, number>;
  record(ctx, "commands", contender, {
    ok: true,
    seconds,
    result: {
      clientPerTaskEndToEnd: enqueue.clientPerTask + processing.clientPerTask,
      enqueueClientPerTask: enqueue.clientPerTask,
      processClientPerTask: processing.clientPerTask,
      phases,
    },
  });
}

/** Scenario 6: a worker's memory while a feeder keeps its queue full. */
async function memoryScenario(ctx: Context, contender: Contender): Promise<void> {
  const total = ctx.options.memoryTotal;
  const sampleEvery = ctx.options.memorySample;
  await flush(ctx);
  const started = performance.now();
  const worker = startDriver(ctx, contender, {
    mode: "memworker",
    n: total,
    concurrency: MEMORY_CONCURRENCY,
    "sample-every": sampleEvery,
  });
  let feeder: Driver | undefined;
  try {
    await worker.waitReady(30_000);
    feeder = startDriver(ctx, contender, {
      mode: "feed",
      n: total,
      chunk: 5_000,
      "max-queue": 50_000,
    });
    const timeoutMs = stepTimeoutMs(ctx.options, "memory");
    const outcome = await worker.wait(timeoutMs);
    const feedOutcome = await feeder.wait(10_000);
    const error = failure(outcome, timeoutMs) ??
      (failure(feedOutcome, 10_000) && `feeder: ${failure(feedOutcome, 10_000)}`);
    const samples = (outcome.result?.samples ?? outcome.samples) as Array<
      { processed: number; rssMiB: number; heapUsedMiB: number }
    >;
    const first = samples.find((s) => s.processed === sampleEvery);
    const last = samples.find((s) => s.processed === total);
    record(ctx, "memory", contender, {
      ok: !error,
      error,
      seconds: secondsSince(started),
      result: {
        ...(outcome.result ?? {}),
        samples,
        checkpoints: [sampleEvery, total],
        rssFirstMiB: first?.rssMiB,
        rssLastMiB: last?.rssMiB,
        rssGrowthMiB: first && last ? last.rssMiB - first.rssMiB : undefined,
        heapFirstMiB: first?.heapUsedMiB,
        heapLastMiB: last?.heapUsedMiB,
        heapGrowthMiB: first && last ? last.heapUsedMiB - first.heapUsedMiB : undefined,
      },
    });
  } catch (error) {
    await recordBroken(ctx, "memory", contender, worker, (error as Error).message, started);
  } finally {
    feeder?.kill();
    worker.kill();
  }
}

/** Clock ticks per second of /proc/PID/stat (`getconf CLK_TCK`; 100 on Linux almost always). */
let clockTicks = 100;

/** CPU time (user + system) of a process so far, in µs, from /proc; undefined elsewhere. */
function processCpuUs(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) / clockTicks) * 1e6;
  } catch {
    return undefined;
  }
}

/**
 * One repetition of a request-response run (scenario 7): a worker at concurrency 100, then the
 * variant's producers, started together once all are connected; the result merges them.
 */
async function requestResponseOnce(
  ctx: Context,
  contender: Contender,
  variant: typeof RR_VARIANTS[number],
): Promise<{ outcome: Outcome; error?: string; commands?: Commands }> {
  await flush(ctx);
  const worker = startDriver(ctx, contender, {
    mode: "worker",
    n: 0,
    concurrency: RR_WORKER_CONCURRENCY,
  });
  const producers: Driver[] = [];
  const stopAll = async () => {
    for (const producer of producers) producer.kill();
    return await worker.stop();
  };
  try {
    await worker.waitReady(30_000);
  } catch (error) {
    const outcome = await stopAll();
    return { outcome, error: `worker: ${(error as Error).message}; ${failure(outcome) ?? ""}` };
  }
  const n = ctx.options.rrN;
  for (let p = 0; p < variant.producers; p++) {
    const share = Math.floor(n / variant.producers) + (p < n % variant.producers ? 1 : 0);
    producers.push(startDriver(ctx, contender, {
      mode: "rr",
      n: share,
      concurrency: variant.calls / variant.producers,
      payload: RR_PAYLOAD_BYTES,
      "wait-ms": RR_WAIT_MS,
    }, true));
  }
  try {
    await Promise.all(producers.map((producer) => producer.waitReady(60_000)));
  } catch (error) {
    const outcome = await Promise.any(producers.map((p) => p.done));
    await stopAll();
    return { outcome, error: `producer: ${(error as Error).message}` };
  }
  const before = await commandStats(ctx.admin);
  const workerCpuBefore = processCpuUs(worker.pid);
  await Promise.all(producers.map((producer) => producer.go()));
  const timeoutMs = stepTimeoutMs(ctx.options, "rr");
  const outcomes = await Promise.all(producers.map((producer) => producer.wait(timeoutMs)));
  const workerCpuAfter = processCpuUs(worker.pid);
  const commands = statsDelta(await commandStats(ctx.admin), before);
  const workerOutcome = await worker.stop();
  const seconds = Math.max(...outcomes.map((o) => o.seconds));
  const errors = outcomes.map((o) => failure(o, timeoutMs)).filter((e) => e !== undefined);
  if (errors.length > 0) {
    const workerDied = workerOutcome.code !== 0 && workerOutcome.code !== null &&
      workerOutcome.code !== 143;
    return {
      outcome: { ...outcomes[0], seconds },
      error: errors[0] + (workerDied ? `; worker: ${failure(workerOutcome)}` : ""),
    };
  }
  const results = outcomes.map((o) => o.result as Record<string, unknown>);
  const total = (field: string) => results.reduce((sum, r) => sum + Number(r[field] ?? 0), 0);
  const lost = total("lost");
  const failed = total("failed");
  // Every producer's latency histogram (ms, 3 significant digits → count), merged.
  const merged = new Map<number, number>();
  for (const r of results) {
    for (const [ms, count] of Object.entries(r.histogram as Record<string, number>)) {
      merged.set(Number(ms), (merged.get(Number(ms)) ?? 0) + count);
    }
  }
  const buckets = [...merged].sort((a, b) => a[0] - b[0]);
  const finished = buckets.reduce((sum, [, count]) => sum + count, 0);
  /** The p-th percentile, nearest rank, over the merged histogram. */
  const at = (p: number) => {
    const rank = Math.max(1, Math.ceil((p / 100) * finished));
    let seen = 0;
    for (const [ms, count] of buckets) if ((seen += count) >= rank) return ms;
    return buckets[buckets.length - 1]?.[0];
  };
  const startedAt = Math.min(...results.map((r) => Number(r.startedAt)));
  const endedAt = Math.max(...results.map((r) => Number(r.endedAt)));
  const span = variant.producers === 1 ? Number(results[0].seconds) : (endedAt - startedAt) / 1000;
  const workerCpuUs = workerCpuBefore !== undefined && workerCpuAfter !== undefined
    ? workerCpuAfter - workerCpuBefore
    : undefined;
  const result: Record<string, unknown> = {
    ...results[0],
    n,
    calls: variant.calls,
    producers: variant.producers,
    workerConcurrency: RR_WORKER_CONCURRENCY,
    seconds: span,
    perSecond: n / span,
    lost,
    failed,
    firstError: results.find((r) => r.firstError)?.firstError,
    p50Ms: finished ? at(50) : undefined,
    p99Ms: finished ? at(99) : undefined,
    meanMs: finished ? buckets.reduce((sum, [ms, c]) => sum + ms * c, 0) / finished : undefined,
    maxMs: finished ? buckets[buckets.length - 1][0] : undefined,
    clientCpuUs: total("clientCpuUs"),
    clientCpuUsPerTask: total("clientCpuUs") / n,
    workerCpuUsPerTask: workerCpuUs === undefined ? undefined : workerCpuUs / n,
    producerRates: results.map((r) => r.perSecond),
    histogram: undefined,
    startedAt: undefined,
    endedAt: undefined,
  };
  const outcome: Outcome = { ...outcomes[0], result, seconds };
  if (lost > 0 || failed > 0) {
    return {
      outcome,
      error: `did not finish: ${lost} of ${n} calls got no result within ${RR_WAIT_MS / 1000} s` +
        (failed ? `, ${failed} failed (${result.firstError})` : ""),
    };
  }
  return { outcome, commands };
}

const SCENARIOS: Scenario[] = [
  {
    id: 1,
    name: "enqueue one by one",
    peers: true,
    repeated: true,
    async run(ctx, contender, round) {
      await repeatedStep(ctx, "enqueue", contender, round, {
        mode: "enqueue",
        n: ctx.options.n,
        concurrency: ENQUEUE_CONCURRENCY,
      });
    },
  },
  {
    id: 2,
    name: "bulk enqueue",
    peers: true,
    repeated: true,
    async run(ctx, contender, round) {
      await repeatedStep(ctx, "bulk", contender, round, { mode: "bulk", n: ctx.options.n });
    },
  },
  {
    id: 3,
    name: "process pre-enqueued no-op tasks",
    peers: true,
    repeated: true,
    async run(ctx, contender, round) {
      const n = ctx.options.n;
      for (const concurrency of PROCESS_CONCURRENCY) {
        await repeatedStep(ctx, `process-c${concurrency}`, contender, round, {
          mode: "process",
          n,
          concurrency,
        }, { mode: "fill", n });
      }
    },
  },
  { id: 4, name: "enqueue-then-await latency", peers: true, run: latencyScenario },
  {
    id: 5,
    name: "Redis commands per task (MONITOR replica of 1 + 3)",
    peers: true,
    run: commandsScenario,
  },
  { id: 6, name: "worker memory", peers: false, run: memoryScenario },
  {
    id: 7,
    name: "request-response (enqueue and await, calls in flight)",
    peers: true,
    repeated: true,
    async run(ctx, contender, round) {
      for (const variant of RR_VARIANTS) {
        await repeated(
          ctx,
          variant.key,
          contender,
          round,
          () => requestResponseOnce(ctx, contender, variant),
        );
      }
    },
  },
];

// ---------------------------------------------------------------- report

interface Metric {
  key: string;
  label: string;
  better: "higher" | "lower";
  digits: number;
  value(runs: Context["runs"], contender: string): number | undefined;
  /** The run key it reads, when {@linkcode metricScenario} cannot tell from `key`. */
  scenario?: string;
}

function fromRun(key: string, field: string) {
  return (runs: Context["runs"], id: string): number | undefined => {
    const run = runs[key]?.[id];
    const value = run?.ok ? run.result?.[field] : undefined;
    return typeof value === "number" && Number.isFinite(value) ? value : undefined;
  };
}

function phaseField(phase: string, field: string) {
  return (runs: Context["runs"], id: string): number | undefined => {
    const run = runs.commands?.[id];
    const phases = run?.ok ? run.result?.phases as Record<string, Record<string, unknown>> : {};
    const value = phases?.[phase]?.[field];
    return typeof value === "number" ? value : undefined;
  };
}

function sum(...parts: Array<(runs: Context["runs"], id: string) => number | undefined>) {
  return (runs: Context["runs"], id: string): number | undefined => {
    const values = parts.map((part) => part(runs, id));
    return values.some((v) => v === undefined)
      ? undefined
      : values.reduce<number>((a, b) => a + (b as number), 0);
  };
}

function metrics(options: Options): Metric[] {
  const k = (n: number) => n >= 1000 ? `${n / 1000}k` : String(n);
  const [first, last] = [options.memorySample, options.memoryTotal];
  return [
    {
      key: "enqueuePerSecond",
      label: `1 enqueue one by one, ${ENQUEUE_CONCURRENCY} in flight (tasks/s)`,
      better: "higher",
      digits: 0,
      value: fromRun("enqueue", "perSecond"),
    },
    {
      key: "bulkPerSecond",
      label: "2 bulk enqueue (tasks/s)",
      better: "higher",
      digits: 0,
      value: fromRun("bulk", "perSecond"),
    },
    {
      key: "processC100PerSecond",
      label: "3 process, concurrency 100 (tasks/s)",
      better: "higher",
      digits: 0,
      value: fromRun("process-c100", "perSecond"),
    },
    {
      key: "processC1PerSecond",
      label: "3 process, concurrency 1 (tasks/s)",
      better: "higher",
      digits: 0,
      value: fromRun("process-c1", "perSecond"),
    },
    {
      key: "latencyP50Ms",
      label: "4 enqueue→result latency p50 (ms)",
      better: "lower",
      digits: 2,
      value: fromRun("latency", "p50Ms"),
    },
    {
      key: "latencyP99Ms",
      label: "4 enqueue→result latency p99 (ms)",
      better: "lower",
      digits: 2,
      value: fromRun("latency", "p99Ms"),
    },
    {
      key: "processC100CommandsPerTask",
      label: "5 cmds/task process c100, all (commandstats)",
      better: "lower",
      digits: 2,
      value: fromRun("process-c100", "commandsPerTask"),
    },
    {
      key: "processC100ClientPerTask",
      label: "5 cmds/task process c100, client-sent (MONITOR)",
      better: "lower",
      digits: 2,
      value: phaseField("process", "clientPerTask"),
    },
    {
      key: "processC1CommandsPerTask",
      label: "5 cmds/task process c1, all (commandstats)",
      better: "lower",
      digits: 2,
      value: fromRun("process-c1", "commandsPerTask"),
    },
    {
      key: "enqueueCommandsPerTask",
      label: "5 cmds/task enqueue 1-by-1, all (commandstats)",
      better: "lower",
      digits: 2,
      value: fromRun("enqueue", "commandsPerTask"),
    },
    {
      key: "enqueueClientPerTask",
      label: "5 cmds/task enqueue 1-by-1, client-sent (MONITOR)",
      better: "lower",
      digits: 2,
      value: phaseField("enqueue", "clientPerTask"),
    },
    {
      key: "endToEndCommandsPerTask",
      label: "5 cmds/task enqueue 1-by-1 + process c100, all",
      better: "lower",
      digits: 2,
      value: sum(fromRun("enqueue", "commandsPerTask"), fromRun("process-c100", "commandsPerTask")),
    },
    {
      key: "endToEndClientPerTask",
      label: "5 cmds/task enqueue 1-by-1 + process c100, client-sent",
      better: "lower",
      digits: 2,
      value: fromRun("commands", "clientPerTaskEndToEnd"),
    },
    {
      key: "bulkCommandsPerTask",
      label: "5 cmds/task bulk enqueue, all (commandstats)",
      better: "lower",
      digits: 2,
      value: fromRun("bulk", "commandsPerTask"),
    },
    {
      key: "latencyCommandsPerTask",
      label: "5 cmds/task sequential enqueue+await, all",
      better: "lower",
      digits: 2,
      value: fromRun("latency", "commandsPerTask"),
    },
    {
      key: "enqueueRedisCpuUs",
      label: "5 Redis CPU/task, enqueue 1-by-1 (µs)",
      better: "lower",
      digits: 1,
      value: fromRun("enqueue", "redisCpuUsPerTask"),
    },
    {
      key: "bulkRedisCpuUs",
      label: "5 Redis CPU/task, bulk enqueue (µs)",
      better: "lower",
      digits: 1,
      value: fromRun("bulk", "redisCpuUsPerTask"),
    },
    {
      key: "processC100RedisCpuUs",
      label: "5 Redis CPU/task, process c100 (µs)",
      better: "lower",
      digits: 1,
      value: fromRun("process-c100", "redisCpuUsPerTask"),
    },
    {
      key: "processC1RedisCpuUs",
      label: "5 Redis CPU/task, process c1 (µs)",
      better: "lower",
      digits: 1,
      value: fromRun("process-c1", "redisCpuUsPerTask"),
    },
    {
      key: "enqueueClientCpuUs",
      label: "5 producer CPU/task, enqueue 1-by-1 (µs)",
      better: "lower",
      digits: 1,
      value: fromRun("enqueue", "clientCpuUsPerTask"),
    },
    {
      key: "bulkClientCpuUs",
      label: "5 producer CPU/task, bulk enqueue (µs)",
      better: "lower",
      digits: 1,
      value: fromRun("bulk", "clientCpuUsPerTask"),
    },
    {
      key: "processC100ClientCpuUs",
      label: "5 worker CPU/task, process c100 (µs)",
      better: "lower",
      digits: 1,
      value: fromRun("process-c100", "clientCpuUsPerTask"),
    },
    ...RR_VARIANTS.flatMap(({ key, calls, producers }): Metric[] => {
      const name = `7 req-resp c${calls}${producers > 1 ? ` ${producers} producers` : ""}`;
      const id = key.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
      const row = (
        suffix: string,
        label: string,
        field: string,
        better: "higher" | "lower",
        digits: number,
      ): Metric => ({
        key: `${id}${suffix}`,
        label: `${name} ${label}`,
        better,
        digits,
        value: fromRun(key, field),
        scenario: key,
      });
      return [
        row("PerSecond", "(calls/s)", "perSecond", "higher", 0),
        row("P50Ms", "p50 (ms)", "p50Ms", "lower", 1),
        row("P99Ms", "p99 (ms)", "p99Ms", "lower", 1),
        row("ProducerCpuUs", "producer CPU/call (µs)", "clientCpuUsPerTask", "lower", 1),
        row("WorkerCpuUs", "worker CPU/call (µs)", "workerCpuUsPerTask", "lower", 1),
        row("RedisCpuUs", "Redis CPU/call (µs)", "redisCpuUsPerTask", "lower", 1),
        row("CommandsPerTask", "cmds/call, all", "commandsPerTask", "lower", 2),
      ];
    }),
    {
      key: "rssFirstMiB",
      label: `6 worker RSS after ${k(first)} tasks (MiB)`,
      better: "lower",
      digits: 1,
      value: fromRun("memory", "rssFirstMiB"),
    },
    {
      key: "rssLastMiB",
      label: `6 worker RSS after ${k(last)} tasks (MiB)`,
      better: "lower",
      digits: 1,
      value: fromRun("memory", "rssLastMiB"),
    },
    {
      key: "rssGrowthMiB",
      label: `6 worker RSS growth ${k(first)}→${k(last)} (MiB)`,
      better: "lower",
      digits: 1,
      value: fromRun("memory", "rssGrowthMiB"),
    },
    {
      key: "heapGrowthMiB",
      label: `6 worker JS heap growth ${k(first)}→${k(last)} (MiB)`,
      better: "lower",
      digits: 1,
      value: fromRun("memory", "heapGrowthMiB"),
    },
  ];
}

function format(value: number | undefined, digits: number): string {
  if (value === undefined || !Number.isFinite(value)) return "-";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function cellFor(ctx: Context, metric: Metric, contender: Contender): string {
  const value = metric.value(ctx.runs, contender.id);
  if (value !== undefined) return format(value, metric.digits);
  if (contender.unavailable) return "n/a";
  const scenarioKey = metric.scenario ?? metricScenario(metric.key);
  const run = scenarioKey ? ctx.runs[scenarioKey]?.[contender.id] : undefined;
  if (run && !run.ok) {
    if (run.error?.includes("did not finish")) return "did not finish";
    return run.error?.includes("timed out") ? "timeout" : "ERROR";
  }
  return "-";
}

function metricScenario(key: string): string | undefined {
  if (key.startsWith("enqueueRedis") || key.startsWith("enqueueClientCpu")) return "enqueue";
  if (key.startsWith("processC100ClientCpu")) return "process-c100";
  if (key.startsWith("enqueue") && !key.includes("Client")) return "enqueue";
  if (key.startsWith("bulk")) return "bulk";
  if (key.startsWith("processC100") && !key.includes("Client")) return "process-c100";
  if (key.startsWith("processC1")) return "process-c1";
  if (key.startsWith("latency")) return "latency";
  if (key.startsWith("rss") || key.startsWith("heap")) return "memory";
  if (key.includes("Client")) return "commands";
  return undefined;
}

function bestPeer(ctx: Context, metric: Metric): { value: number; label: string } | undefined {
  let best: { value: number; label: string } | undefined;
  for (const contender of ctx.contenders.filter((c) => c.lib !== "qtasks")) {
    const value = metric.value(ctx.runs, contender.id);
    if (value === undefined) continue;
    const better = !best ||
      (metric.better === "higher" ? value > best.value : value < best.value);
    if (better) best = { value, label: contender.label };
  }
  return best;
}

function ratioOf(ctx: Context, metric: Metric, contender: Contender): number | undefined {
  const ours = metric.value(ctx.runs, contender.id);
  const peer = bestPeer(ctx, metric);
  if (ours === undefined || !peer || peer.value === 0) return undefined;
  return ours / peer.value;
}

/** Current / baseline of one metric for a current contender, when both were measured. */
function baselineRatio(ctx: Context, metric: Metric, contender: Contender): number | undefined {
  const twin = ctx.contenders.find((c) => c.baselineOf === contender.id);
  if (!twin) return undefined;
  const current = metric.value(ctx.runs, contender.id);
  const base = metric.value(ctx.runs, twin.id);
  if (current === undefined || base === undefined || base === 0) return undefined;
  return current / base;
}

/** Issue 15: processing at concurrency 100 at least this fraction of the baseline's. */
const BASELINE_MIN_RATIO = 0.95;

/** The ratios current / baseline of every metric measured by both, per runtime. */
function renderBaseline(ctx: Context, all: Metric[]): string[] {
  const baseline = ctx.baseline;
  if (!baseline) return [];
  const ours = ctx.contenders.filter(isOurs);
  const rows = [[
    `current / baseline ${baseline.tag}`,
    "better",
    ...ours.map((c) => `ratio ${c.runtime}`),
  ]];
  for (const metric of all) {
    const ratios = ours.map((c) => baselineRatio(ctx, metric, c));
    if (ratios.every((r) => r === undefined)) continue;
    rows.push([
      metric.label,
      metric.better,
      ...ratios.map((r) => r === undefined ? "-" : `${r.toFixed(2)}x`),
    ]);
  }
  if (rows.length === 1) {
    return ["", `current / baseline ${baseline.tag}: no metric measured by both`];
  }
  const table = padTable(rows, 2).split("\n");
  table.splice(1, 0, "-".repeat(table[0].length));
  const c100 = all.find((m) => m.key === "processC100PerSecond")!;
  const verdicts = ours.map((c) => {
    const r = baselineRatio(ctx, c100, c);
    const verdict = r === undefined ? "n/a" : r >= BASELINE_MIN_RATIO ? "met" : "NOT met";
    return `${c.runtime} ${verdict}${r === undefined ? "" : ` (${r.toFixed(2)}x)`}`;
  });
  return [
    "",
    ...table,
    "",
    `ratio = current tree / ${baseline.ref} (${baseline.commit.slice(0, 12)}), the same run, ` +
    "rounds interleaved;",
    "for 'higher' rows above 1 is better, for 'lower' rows below 1 (median of each, so use",
    "--repeat 3 or more and an N that takes seconds, not milliseconds, to read it as a verdict).",
    `process c100 >= ${BASELINE_MIN_RATIO}x baseline (issue 15): ${verdicts.join(", ")}`,
  ];
}

function padTable(rows: string[][], rightAlignFrom = 1): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => [...(row[c] ?? "")].length)));
  return rows.map((row) =>
    row.map((cell, c) => {
      const pad = " ".repeat(widths[c] - [...cell].length);
      return c >= rightAlignFrom ? pad + cell : cell + pad;
    }).join("  ").trimEnd()
  ).join("\n");
}

interface TargetRow {
  target: string;
  byRuntime: Record<string, { met: boolean | undefined; detail: string }>;
}

function targets(ctx: Context, all: Metric[]): TargetRow[] {
  const metric = (key: string) => all.find((m) => m.key === key)!;
  const value = (key: string, id: string) => metric(key).value(ctx.runs, id);
  const ours = ctx.contenders.filter(isOurs);
  const rows: TargetRow[] = [];
  const versus = (
    target: string,
    key: string,
    peer: string,
    test: (ratio: number) => boolean,
  ) => {
    const row: TargetRow = { target, byRuntime: {} };
    for (const c of ours) {
      const mine = value(key, c.id);
      const theirs = value(key, peer);
      if (mine === undefined || theirs === undefined || theirs === 0) {
        row.byRuntime[c.runtime] = {
          met: undefined,
          detail: mine === undefined ? "not measured" : `${peer} not measured`,
        };
        continue;
      }
      const ratio = mine / theirs;
      row.byRuntime[c.runtime] = { met: test(ratio), detail: `${ratio.toFixed(2)}x` };
    }
    rows.push(row);
  };
  const absolute = (
    target: string,
    key: string,
    test: (value: number) => boolean,
    digits = 2,
  ) => {
    const row: TargetRow = { target, byRuntime: {} };
    for (const c of ours) {
      const mine = value(key, c.id);
      row.byRuntime[c.runtime] = mine === undefined
        ? { met: undefined, detail: "not measured" }
        : { met: test(mine), detail: format(mine, digits) };
    }
    rows.push(row);
  };
  versus("process c100 >= 3x BullMQ", "processC100PerSecond", "bullmq", (r) => r >= 3);
  versus("process c100 >= 2x bee-queue", "processC100PerSecond", "bee-queue", (r) => r >= 2);
  versus("enqueue 1-by-1 >= 2x BullMQ", "enqueuePerSecond", "bullmq", (r) => r >= 2);
  versus("bulk enqueue >= BullMQ addBulk", "bulkPerSecond", "bullmq", (r) => r >= 1);
  versus("latency p50 <= 0.5x BullMQ", "latencyP50Ms", "bullmq", (r) => r <= 0.5);
  versus("latency p99 <= BullMQ", "latencyP99Ms", "bullmq", (r) => r <= 1);
  for (const { key } of RR_VARIANTS) {
    const id = key.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
    const what = key.replace(/^rr-/, "req-resp ");
    versus(`${what} >= 2x bee-queue`, `${id}PerSecond`, "bee-queue", (r) => r >= 2);
    versus(`${what} >= 3x BullMQ`, `${id}PerSecond`, "bullmq", (r) => r >= 3);
    versus(`${what} p99 <= bee-queue`, `${id}P99Ms`, "bee-queue", (r) => r <= 1);
    const row: TargetRow = { target: `${what} producer CPU <= worker CPU`, byRuntime: {} };
    for (const c of ours) {
      const producer = value(`${id}ProducerCpuUs`, c.id);
      const worker = value(`${id}WorkerCpuUs`, c.id);
      row.byRuntime[c.runtime] = producer === undefined || worker === undefined
        ? { met: undefined, detail: "not measured" }
        : { met: producer <= worker, detail: `${format(producer, 1)} / ${format(worker, 1)} µs` };
    }
    rows.push(row);
  }
  absolute("<= 3 cmds/task end to end, client-sent", "endToEndClientPerTask", (v) => v <= 3);
  absolute(
    "<= 3 cmds/task end to end, all (in scripts too)",
    "endToEndCommandsPerTask",
    (v) => v <= 3,
  );
  // "No growth": the last RSS sample within noise of the first (16 MiB or 10 %, whichever is
  // larger). The JS heap (after a full GC) is shown beside it: RSS can grow without a leak.
  const growth: TargetRow = {
    target: "no RSS growth between checkpoints (16 MiB/10%)",
    byRuntime: {},
  };
  for (const c of ours) {
    const run = ctx.runs.memory?.[c.id];
    const first = run?.ok ? run.result?.rssFirstMiB as number | undefined : undefined;
    const last = run?.ok ? run.result?.rssLastMiB as number | undefined : undefined;
    if (first === undefined || last === undefined) {
      growth.byRuntime[c.runtime] = { met: undefined, detail: "not measured" };
      continue;
    }
    const allowed = Math.max(16, first * 0.1);
    const heap = run?.result?.heapGrowthMiB as number | undefined;
    const signed = (v: number) => `${v >= 0 ? "+" : ""}${format(v, 1)}`;
    const rss = ((run?.result?.samples ?? []) as Array<{ rssMiB: number }>).map((x) => x.rssMiB);
    growth.byRuntime[c.runtime] = {
      met: last - first <= allowed,
      detail:
        `RSS ${signed(last - first)} MiB, samples ${format(Math.min(...rss), 0)}–${
          format(Math.max(...rss), 0)
        }` + (heap === undefined ? "" : `; heap ${signed(heap)}`),
    };
  }
  rows.push(growth);
  return rows;
}

/** One step whose rate the machine's CPU bounds (see {@linkcode ceilings}). */
interface CeilingStep {
  step: string;
  rate: string;
  /** The CPU per task of every process on the path: the client(s), the worker, Redis. */
  cpu: string[];
  redis: string;
  /** Targets on this step's rate: at least `times` the peer's. */
  targets: Array<{ peer: string; times: number }>;
}

/** The steps of {@linkcode ceilings}: what each one's processes spend per task. */
function ceilingSteps(): CeilingStep[] {
  const steps: CeilingStep[] = [
    {
      step: "enqueue 1-by-1",
      rate: "enqueuePerSecond",
      cpu: ["enqueueClientCpuUs", "enqueueRedisCpuUs"],
      redis: "enqueueRedisCpuUs",
      targets: [{ peer: "bullmq", times: 2 }],
    },
    {
      step: "process c100",
      rate: "processC100PerSecond",
      cpu: ["processC100ClientCpuUs", "processC100RedisCpuUs"],
      redis: "processC100RedisCpuUs",
      targets: [{ peer: "bullmq", times: 3 }],
    },
  ];
  for (const { key } of RR_VARIANTS) {
    const id = key.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
    steps.push({
      step: key.replace(/^rr-/, "req-resp "),
      rate: `${id}PerSecond`,
      cpu: [`${id}ProducerCpuUs`, `${id}WorkerCpuUs`, `${id}RedisCpuUs`],
      redis: `${id}RedisCpuUs`,
      targets: [{ peer: "bee-queue", times: 2 }, { peer: "bullmq", times: 3 }],
    });
  }
  return steps;
}

/** A contender's figures on one step of {@linkcode ceilings}. */
interface CeilingCell {
  cpuUs: number;
  redisUs: number;
  /** Tasks/s the cores allow at this CPU per task (all processes busy all the time). */
  ceiling: number;
  /** Tasks/s Redis allows (one thread). */
  redisCeiling: number;
  rate: number;
  /** rate / ceiling. */
  reached: number;
}

/** A target's rate and the CPU per task that would let the cores reach it. */
interface CeilingNeed {
  step: string;
  target: string;
  rateNeeded: number;
  cpuAllowedUs: number;
  ours: Record<string, number | undefined>;
}

/**
 * What the machine's CPU allows: for each step, every contender's CPU per task summed over the
 * processes on its path (client or producer, worker, Redis, each measured in the run), the rate
 * the cores would give if all of them were busy all the time (cores × 1 s / that sum), the rate
 * Redis' one thread allows, and the share of that ceiling the contender reached; then, for each
 * rate target, the CPU per task that would let the cores reach it, beside ours.
 */
function ceilings(ctx: Context, all: Metric[]): {
  cores: number;
  steps: Array<{ step: string; byContender: Record<string, CeilingCell> }>;
  needs: CeilingNeed[];
} {
  const cores = cpus().length;
  const value = (key: string, id: string) => all.find((m) => m.key === key)?.value(ctx.runs, id);
  const steps: Array<{ step: string; byContender: Record<string, CeilingCell> }> = [];
  const needs: CeilingNeed[] = [];
  for (const step of ceilingSteps()) {
    const byContender: Record<string, CeilingCell> = {};
    for (const c of ctx.contenders) {
      if (c.baselineOf) continue;
      const parts = step.cpu.map((key) => value(key, c.id));
      const rate = value(step.rate, c.id);
      const redisUs = value(step.redis, c.id);
      if (rate === undefined || redisUs === undefined || parts.some((v) => v === undefined)) {
        continue;
      }
      const cpuUs = parts.reduce((sum: number, v) => sum + v!, 0);
      const ceiling = cores * 1e6 / cpuUs;
      byContender[c.id] = {
        cpuUs,
        redisUs,
        ceiling,
        redisCeiling: 1e6 / redisUs,
        rate,
        reached: rate / ceiling,
      };
    }
    if (Object.keys(byContender).length === 0) continue;
    steps.push({ step: step.step, byContender });
    for (const { peer, times } of step.targets) {
      const theirs = byContender[peer];
      if (!theirs) continue;
      const rateNeeded = theirs.rate * times;
      needs.push({
        step: step.step,
        target: `>= ${times}x ${peer}`,
        rateNeeded,
        cpuAllowedUs: cores * 1e6 / rateNeeded,
        ours: Object.fromEntries(
          ctx.contenders.filter((c) => isOurs(c) && !c.baselineOf).map((c) => [
            c.runtime,
            byContender[c.id]?.cpuUs,
          ]),
        ),
      });
    }
  }
  return { cores, steps, needs };
}

/** The tables of {@linkcode ceilings}. */
function renderCeilings(ctx: Context, found: ReturnType<typeof ceilings>): string[] {
  if (found.steps.length === 0) return [];
  const shown = ctx.contenders.filter((c) => !c.baselineOf);
  const rows = [[
    "step (CPU µs/task, all processes; ceiling; reached)",
    ...shown.map((c) => c.label),
  ]];
  for (const { step, byContender } of found.steps) {
    rows.push([
      step,
      ...shown.map((c) => {
        const cell = byContender[c.id];
        return cell === undefined
          ? "-"
          : `${format(cell.cpuUs, 1)} µs; ${format(cell.ceiling, 0)}/s (Redis ${
            format(cell.redisCeiling, 0)
          }); ${Math.round(cell.reached * 100)}%`;
      }),
    ]);
  }
  const table = padTable(rows, 99).split("\n");
  table.splice(1, 0, "-".repeat(table[0].length));
  const ours = shown.filter(isOurs);
  const needRows = [[
    "target: rate needed, CPU/task it allows",
    ...ours.map((c) => `ours ${c.runtime}`),
  ]];
  for (const need of found.needs) {
    needRows.push([
      `${need.step} ${need.target}: ${format(need.rateNeeded, 0)}/s, <= ${
        format(need.cpuAllowedUs, 1)
      } µs`,
      ...ours.map((c) => {
        const mine = need.ours[c.runtime];
        return mine === undefined ? "-" : `${format(mine, 1)} µs`;
      }),
    ]);
  }
  const needTable = padTable(needRows, 99).split("\n");
  needTable.splice(1, 0, "-".repeat(needTable[0].length));
  return [
    "",
    `What the CPU allows (${found.cores} cores): CPU per task of every process on the path (the`,
    "client or producers, the worker, Redis), the rate the cores would give if all were busy all",
    "the time (cores x 1 s / that CPU), the rate Redis' one thread allows, and the share reached:",
    ...table,
    "",
    "Each rate target, the rate it needs and the CPU per task (all processes) that rate allows:",
    ...needTable,
  ];
}

function renderReport(
  ctx: Context,
  all: Metric[],
  targetRows: TargetRow[],
  found: ReturnType<typeof ceilings>,
): string {
  const ours = ctx.contenders.filter(isOurs);
  const header = [
    "metric",
    "better",
    ...ctx.contenders.map((c) => c.label),
    "best peer",
    ...ours.map((c) => `ratio ${c.runtime}`),
  ];
  const rows = [header];
  for (const metric of all) {
    const peer = bestPeer(ctx, metric);
    rows.push([
      metric.label,
      metric.better,
      ...ctx.contenders.map((c) => cellFor(ctx, metric, c)),
      peer ? peer.label.split("·")[0] : "-",
      ...ours.map((c) => {
        const ratio = ratioOf(ctx, metric, c);
        return ratio === undefined ? "-" : `${ratio.toFixed(2)}x`;
      }),
    ]);
  }
  const table = padTable(rows, 2).split("\n");
  table.splice(1, 0, "-".repeat(table[0].length));
  const lines = [
    ...table,
    "",
    "ratio = ours / best peer: for 'higher' rows above 1 is better, for 'lower' rows below 1 is",
    "better (cmds/task: fewer Redis commands; 'all' counts commands run inside Lua scripts too).",
  ];
  const unavailable = ctx.contenders.filter((c) => c.unavailable);
  for (const c of unavailable) lines.push(`${c.label}: unavailable: ${c.unavailable}`);
  const failures: string[] = [];
  for (const [key, byContender] of Object.entries(ctx.runs)) {
    for (const [id, run] of Object.entries(byContender)) {
      if (!run.ok) failures.push(`${key} ${id}: ${run.error}`);
    }
  }
  if (failures.length) lines.push("", "failed runs:", ...failures.map((f) => `  ${f}`));
  lines.push(...renderBaseline(ctx, all));
  const targetTable = [
    ["target (from the issue)", ...ours.map((c) => c.label)],
    ...targetRows.map((row) => [
      row.target,
      ...ours.map((c) => {
        const cell = row.byRuntime[c.runtime];
        if (!cell) return "-";
        const verdict = cell.met === undefined ? "n/a" : cell.met ? "met" : "NOT met";
        return `${verdict} (${cell.detail})`;
      }),
    ]),
  ];
  const rendered = padTable(targetTable, 99).split("\n");
  rendered.splice(1, 0, "-".repeat(rendered[0].length));
  lines.push("", ...rendered);
  lines.push(...renderCeilings(ctx, found));
  return lines.join("\n");
}

// ---------------------------------------------------------------- main

async function environment(tools: Tools, redisVersion: string) {
  const cpuList = cpus();
  return {
    date: new Date().toISOString(),
    machine: {
      cpu: cpuList[0]?.model?.trim() || "unknown",
      cores: cpuList.length || navigator.hardwareConcurrency,
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      os: `${Deno.build.os} ${release()} ${Deno.build.arch}`,
      loadAverageAtStart: loadavg().map((v) => Math.round(v * 100) / 100),
    },
    runtimes: {
      deno: Deno.version.deno,
      bun: tools.bun ? await commandOutput(tools.bun, ["--version"]) : "unavailable",
      node: tools.node
        ? (await commandOutput(tools.node, ["--version"])).replace(/^v/, "")
        : "unavailable",
    },
    redis: redisVersion,
  };
}

async function main(): Promise<number> {
  const options = parseOptions(Deno.args);
  clockTicks = Number(await commandOutput("getconf", ["CLK_TCK"])) || 100;
  const suiteStart = performance.now();
  const log = (message: string) =>
    console.error(`[${secondsSince(suiteStart).toFixed(1)}s] ${message}`);

  const tools = await findTools();
  if (tools.error) log(tools.error);
  const peers = await installPeers(options.install);
  let contenders = buildContenders(tools, peers, options.contenders).map((c) =>
    c.lib === "qtasks" ? { ...c, env: options.currentEnv } : c
  );
  const envShown = Object.entries(options.currentEnv).map(([k, v]) => `${k}=${v}`).join(" ");
  if (envShown) log(`current tree's QTasks drivers run with ${envShown} (--current-env)`);
  let baseline: Baseline | undefined;
  if (options.baseline) {
    baseline = await checkOutBaseline(options.baseline, log);
    contenders = withBaseline(contenders, baseline);
  }

  let target: RedisTarget;
  let serverVersion = "";
  if (options.redisUrl) {
    target = parseTarget(options.redisUrl, false);
    log(`using ${target.url} (FLUSHDB before each run; commandstats are server-wide)`);
  } else {
    const started = await startRedisServer();
    target = started.target;
    serverVersion = started.version;
    log(`private redis-server on port ${target.port}`);
  }
  const admin = await connectAdmin(target.url, log);
  try {
    const info = await admin.info("server");
    const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? serverVersion;
    const env = await environment(
      tools,
      `${redisVersion}${target.private ? " (private server)" : ` (${target.url})`}`,
    );
    const mode = options.short ? "short" : "full";
    const k = (n: number) => n.toLocaleString("en-US");
    console.log(`QTasks benchmark (${mode}) · ${env.date}`);
    console.log(
      `machine: ${env.machine.cpu}, ${env.machine.cores} cores, ${env.machine.memoryGiB} GiB, ${env.machine.os}`,
    );
    console.log(
      `load average at start: ${env.machine.loadAverageAtStart.join(", ")} (other processes ` +
        "on this machine add noise)",
    );
    console.log(
      `runtimes: deno ${env.runtimes.deno}, bun ${env.runtimes.bun}, node ${env.runtimes.node} · redis ${env.redis}`,
    );
    console.log(
      `contenders: ${
        contenders.map((c) => `${c.label} ${c.version}${c.unavailable ? " (unavailable)" : ""}`)
          .join(", ")
      }`,
    );
    console.log(
      `N ${
        k(options.n)
      }, median of ${options.repeat} (enqueue ${ENQUEUE_CONCURRENCY} in flight; process at c${
        PROCESS_CONCURRENCY.join(", c")
      }) · latency ${
        k(options.latencyN)
      } (+${options.latencyWarmup} warm-up, worker c${LATENCY_WORKER_CONCURRENCY} in another process) · memory ${
        k(options.memorySample)
      } → ${k(options.memoryTotal)} (c${MEMORY_CONCURRENCY}) · request-response ${
        k(options.rrN)
      } calls (${
        RR_VARIANTS.map((v) => `c${v.calls}×${v.producers}`).join(", ")
      } producers; ${RR_PAYLOAD_BYTES} B argument; worker c${RR_WORKER_CONCURRENCY}; wait bound ${
        RR_WAIT_MS / 1000
      } s)`,
    );
    if (baseline) {
      console.log(
        `baseline: ${baseline.ref} = ${baseline.commit.slice(0, 12)} "${baseline.subject}" ` +
          `(checked out in ${baseline.dir}; node_modules: ${baseline.nodeModules}; driver: ` +
          `${baseline.driver}), ` +
          "each run next to its current twin",
      );
    }
    console.log("");

    const ctx: Context = {
      options,
      target,
      admin,
      contenders,
      runs: {},
      repetitions: {},
      log,
      baseline,
    };
    const durations: Record<string, number> = {};
    for (const scenario of SCENARIOS.filter((s) => options.scenarios.includes(s.id))) {
      const started = performance.now();
      log(`scenario ${scenario.id}: ${scenario.name}`);
      const rounds = scenario.repeated ? options.repeat : 1;
      for (let round = 0; round < rounds; round++) {
        for (const contender of roundOrder(contenders, round)) {
          if (contender.unavailable) continue;
          if (!scenario.peers && contender.lib !== "qtasks") continue;
          try {
            await scenario.run(ctx, contender, round);
          } catch (error) {
            // A failure of the harness itself (Redis admin commands): report and go on.
            record(ctx, `scenario-${scenario.id}`, contender, {
              ok: false,
              error: (error as Error).message,
              seconds: 0,
            });
          }
        }
      }
      finishRepetitions(ctx);
      durations[`${scenario.id} ${scenario.name}`] = secondsSince(started);
    }
    await flush(ctx);

    const all = metrics(options);
    const targetRows = targets(ctx, all);
    const ceilingRows = ceilings(ctx, all);
    const report = renderReport(ctx, all, targetRows, ceilingRows);
    const totalSeconds = secondsSince(suiteStart);
    console.log(report);
    console.log("");
    console.log(
      `took ${totalSeconds.toFixed(1)} s (${
        Object.entries(durations).map(([name, s]) => `${name.split(" ")[0]}: ${s.toFixed(1)} s`)
          .join(", ")
      })`,
    );

    const figures: Record<string, Record<string, number | undefined>> = {};
    const ratios: Record<string, Record<string, number | undefined>> = {};
    for (const metric of all) {
      figures[metric.key] = Object.fromEntries(
        contenders.map((c) => [c.id, metric.value(ctx.runs, c.id)]),
      );
      ratios[metric.key] = Object.fromEntries(
        contenders.filter(isOurs).map((c) => [
          c.runtime,
          ratioOf(ctx, metric, c),
        ]),
      );
    }
    const json = {
      issue: "Performance: benchmark against BullMQ and bee-queue in the same run",
      mode,
      ...env,
      settings: {
        n: options.n,
        repeat: options.repeat,
        enqueueConcurrency: ENQUEUE_CONCURRENCY,
        processConcurrency: PROCESS_CONCURRENCY,
        latencyN: options.latencyN,
        latencyWarmup: options.latencyWarmup,
        latencyWorkerConcurrency: LATENCY_WORKER_CONCURRENCY,
        memoryCheckpoints: [options.memorySample, options.memoryTotal],
        memoryConcurrency: MEMORY_CONCURRENCY,
        requestResponse: {
          n: options.rrN,
          variants: RR_VARIANTS,
          workerConcurrency: RR_WORKER_CONCURRENCY,
          payloadBytes: RR_PAYLOAD_BYTES,
          waitMs: RR_WAIT_MS,
        },
        redis: target.private ? "private redis-server, flushed before each run" : target.url,
      },
      contenders: contenders.map((
        { id, lib, runtime, version, unavailable, command, baselineOf },
      ) => ({
        id,
        lib,
        runtime,
        version,
        unavailable,
        command: command.map((part) => part.replace(ROOT + "/", "")),
        baselineOf,
        cwd: baselineOf ? "the baseline checkout" : undefined,
      })),
      peersInstall: peers,
      metrics: all.map(({ key, label, better }) => ({ key, label, better })),
      figures,
      ratiosToBestPeer: ratios,
      baseline: baseline && {
        ref: baseline.ref,
        commit: baseline.commit,
        subject: baseline.subject,
        tag: baseline.tag,
        nodeModules: baseline.nodeModules,
        driver: baseline.driver,
      },
      ratiosToBaseline: baseline && Object.fromEntries(
        all.map((metric) => [
          metric.key,
          Object.fromEntries(
            contenders.filter(isOurs).map((c) => [c.runtime, baselineRatio(ctx, metric, c)]),
          ),
        ]),
      ),
      targets: targetRows,
      ceilings: ceilingRows,
      runs: ctx.runs,
      loadAverageAtEnd: loadavg().map((v) => Math.round(v * 100) / 100),
      durationsSeconds: { total: totalSeconds, ...durations },
      table: report,
    };
    const path = options.json.startsWith("/") ? options.json : `${ROOT}/${options.json}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, JSON.stringify(json, null, 2) + "\n");
    console.log(`wrote ${options.json}`);
    return 0;
  } finally {
    await admin.close().catch(() => {});
  }
}

globalThis.addEventListener("unload", cleanUpAll);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    console.error(`\nbench: ${signal}, killing every child process`);
    cleanUpAll();
    Deno.exit(signal === "SIGINT" ? 130 : 143);
  });
}

if (import.meta.main) {
  let code = 1;
  try {
    code = await main();
  } catch (error) {
    console.error(`bench: ${(error as Error).stack ?? error}`);
  } finally {
    cleanUpAll();
  }
  Deno.exit(code);
}

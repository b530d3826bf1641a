/**
 * The fault suite: proves the queue never loses a task when workers die, Redis restarts or
 * freezes, workers are told to stop, or the input is bad (GitHub issue "Delivery guarantees
 * under faults and bad input").
 *
 *   deno run -A scripts/faults.ts [--short] [--postgres] [--only N[,M]] [--json FILE] [--verbose]
 *   bun scripts/faults.ts [options]     (the same, on Bun)
 *   node scripts/faults.ts [options]    (the same, on Node 24: scripts/tools' node, which strips
 *                                        the types itself)
 *
 * The runtime that runs this script is the runtime under test: the worker processes are started
 * on it (tests/support/spawn_runtime.ts: `deno run -A`, or the same bun or node executable) and
 * the producer runs in this process. `bash scripts/test.sh faults-pg` runs the PostgreSQL form on
 * all three (`faults-pg-deno`, `faults-pg-bun`, `faults-pg-node`: one of them; results per
 * runtime in docs/postgres.md, "Faults"); the Redis form runs on Deno there (`faults`).
 *
 *   --postgres the PostgreSQL scenarios instead (tests/faults/scenarios/postgres.ts): kill -9 of
 *              workers, a restart, a 10 s outage, SIGTERM, poison input, each on a private
 *              PostgreSQL server (initdb + pg_ctl in a temporary directory, on a free port; run
 *              as the `postgres` OS user when root), never the shared one on 5432
 *   --short    the CI form: smaller numbers and shorter outages (under about 2 minutes)
 *   --only     run only these scenarios (1–8)
 *   --json     also write the results as JSON to FILE
 *   --verbose  echo every worker's output to stderr
 *
 * Each scenario starts its own redis-server (or, with --postgres, PostgreSQL server) on a free
 * port (never the shared Redis on 6379 or PostgreSQL on 5432), worker processes of
 * tests/faults/fixtures/fault_worker.ts on the current runtime, and runs the producer in this
 * process. It prints the machine, runtime versions and date, then one row per
 * scenario: tasks sent, succeeded, failed, lost, duplicated, deliveries > 1, rejected at enqueue,
 * seconds, notes. It exits 1 if any scenario lost a task or broke one of its expectations, else
 * 0. Every child process and redis-server is killed at the end, also on failure or Ctrl-C.
 * Needs redis-server on the PATH (or env REDIS_SERVER).
 *
 * @module
 */
import { writeFileSync } from "node:fs";
import process from "node:process";
import { cliArgs } from "./cli_args.ts";
import { installExitSafeguard, killTracked } from "../tests/faults/cleanup.ts";
import {
  environment,
  formatHeader,
  formatProblems,
  formatTable,
  jsonReport,
} from "../tests/faults/report.ts";
import { type ScenarioRow, Scope } from "../tests/faults/scenario.ts";
import { SCENARIOS as REDIS_SCENARIOS } from "../tests/faults/scenarios/mod.ts";
import { POSTGRES_SCENARIOS } from "../tests/faults/scenarios/postgres.ts";
import { postgresServerVersion } from "../tests/faults/postgres_server.ts";

/** The scenarios of this run (`--postgres`: the PostgreSQL ones). */
const SCENARIOS = process.argv.includes("--postgres") ? POSTGRES_SCENARIOS : REDIS_SCENARIOS;

interface Options {
  short: boolean;
  postgres: boolean;
  only: number[] | undefined;
  json: string | undefined;
  verbose: boolean;
}

const USAGE =
  "usage: deno run -A scripts/faults.ts (or bun scripts/faults.ts, node scripts/faults.ts) " +
  "[--short] [--postgres] [--only N[,M]] [--json FILE] [--verbose]";

function parseArgs(argv: string[]): Options {
  const options: Options = {
    short: false,
    postgres: false,
    only: undefined,
    json: undefined,
    verbose: false,
  };
  for (const { arg, flag, value } of cliArgs(argv, USAGE)) {
    if (flag === "--short") options.short = true;
    else if (flag === "--postgres") options.postgres = true;
    else if (flag === "--verbose") options.verbose = true;
    else if (flag === "--json") options.json = value();
    else if (flag === "--only") {
      options.only = value().split(",").map((part) => {
        const id = Number(part.trim());
        if (!SCENARIOS.some((scenario) => scenario.id === id)) {
          throw new Error(`--only: no scenario ${part} (there are ${SCENARIOS.length})`);
        }
        return id;
      });
    } else if (flag === "--help" || flag === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  return options;
}

/** Longest a scenario may run before it is abandoned (its processes killed) and failed. */
function scenarioTimeoutMs(short: boolean): number {
  return short ? 120_000 : 600_000;
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  installExitSafeguard();
  const mode = options.short ? "short" : "full";
  const env = environment();
  console.log(formatHeader(env, mode));
  if (options.postgres) console.log(`backend: PostgreSQL (${postgresServerVersion()})`);
  console.log("");

  const selected = SCENARIOS.filter((s) => !options.only || options.only.includes(s.id));
  const rows: ScenarioRow[] = [];
  const suiteStart = performance.now();
  for (const scenario of selected) {
    const started = performance.now();
    const log = (message: string) =>
      console.error(
        `[${scenario.id} ${((performance.now() - started) / 1000).toFixed(1)}s] ${message}`,
      );
    log(`${scenario.name}: ${scenario.summary}`);
    const scope = new Scope();
    const row: ScenarioRow = {
      id: scenario.id,
      name: scenario.name,
      sent: 0,
      succeeded: 0,
      failed: 0,
      lost: 0,
      duplicated: 0,
      redelivered: 0,
      rejectedAtEnqueue: 0,
      seconds: 0,
      ok: false,
      notes: [],
      problems: [],
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const limitMs = scenarioTimeoutMs(options.short);
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`did not finish within ${limitMs / 1000} s`)),
          limitMs,
        );
      });
      const outcome = await Promise.race([
        scenario.run({ short: options.short, verbose: options.verbose, log, scope }),
        timedOut,
      ]);
      Object.assign(row, outcome);
    } catch (error) {
      row.problems.push(`scenario error: ${(error as Error)?.stack ?? error}`);
    } finally {
      clearTimeout(timer);
      await scope.dispose();
    }
    row.seconds = (performance.now() - started) / 1000;
    row.ok = row.lost === 0 && row.problems.length === 0;
    rows.push(row);
    log(`${row.ok ? "PASS" : "FAIL"} in ${row.seconds.toFixed(1)} s`);
    for (const problem of row.problems) log(`  problem: ${problem}`);
  }
  const seconds = (performance.now() - suiteStart) / 1000;

  console.log(formatTable(rows));
  const passed = rows.every((row) => row.ok);
  console.log("");
  console.log(
    `${passed ? "PASS" : "FAIL"}: ${rows.filter((row) => row.ok).length}/${rows.length} ` +
      `scenarios, ${rows.reduce((sum, row) => sum + row.lost, 0)} tasks lost, ` +
      `${seconds.toFixed(1)} s in all`,
  );
  if (!passed) console.log(`problems:\n${formatProblems(rows)}`);
  if (options.json) {
    writeFileSync(options.json, jsonReport(env, mode, rows, seconds));
    console.log(`JSON written to ${options.json}`);
  }
  return passed ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(`faults: ${(error as Error)?.message ?? error}`);
  code = 2;
} finally {
  killTracked();
}
process.exit(code);

/**
 * What the fault runner prints: the environment header (machine, runtime versions, date), the
 * result table (Markdown, so it pastes into an issue), and the JSON document for `--json`.
 *
 * @module
 */
import { cpus, hostname, release, totalmem, type } from "node:os";
import { getRuntime } from "../../mod.ts";
import { redisServerVersion } from "./redis_server.ts";
import type { ScenarioRow } from "./scenario.ts";

/** Where and when the suite ran. */
export interface Environment {
  /** ISO date and time of the start. */
  date: string;
  /** Host name, OS, CPUs and memory. */
  machine: string;
  /** The runtime running the runner and the workers, with its version. */
  runtime: string;
  /** The redis-server version line. */
  redis: string;
}

/** Describes this machine and runtime. */
export function environment(): Environment {
  const cores = cpus();
  const model = cores[0]?.model.replace(/\s+/g, " ").trim() ?? "unknown CPU";
  const runtime = getRuntime();
  const deno = (globalThis as { Deno?: { version: Record<string, string> } }).Deno;
  const extra = deno ? ` (v8 ${deno.version.v8}, typescript ${deno.version.typescript})` : "";
  return {
    date: new Date().toISOString(),
    machine: `${hostname()}: ${type()} ${release()}, ${cores.length} × ${model}, ${
      (totalmem() / 2 ** 30).toFixed(1)
    } GiB RAM`,
    runtime: `${runtime.name} ${runtime.version}${extra}`,
    redis: redisServerVersion(),
  };
}

/** The header lines. */
export function formatHeader(env: Environment, mode: string): string {
  return [
    `QTasks fault suite (${mode})`,
    `date:    ${env.date}`,
    `machine: ${env.machine}`,
    `runtime: ${env.runtime}`,
    `redis:   ${env.redis}`,
  ].join("\n");
}

const COLUMNS: Array<[title: string, cell: (row: ScenarioRow) => string, right: boolean]> = [
  ["#", (row) => String(row.id), true],
  ["scenario", (row) => row.name, false],
  ["sent", (row) => String(row.sent), true],
  ["succeeded", (row) => String(row.succeeded), true],
  ["failed", (row) => String(row.failed), true],
  ["lost", (row) => String(row.lost), true],
  ["duplicated", (row) => String(row.duplicated), true],
  ["deliveries>1", (row) => String(row.redelivered), true],
  ["rejected at enqueue", (row) => String(row.rejectedAtEnqueue), true],
  ["seconds", (row) => row.seconds.toFixed(1), true],
  ["result", (row) => row.ok ? "PASS" : "FAIL", false],
  ["notes", (row) => row.notes.join("; "), false],
];

/** The rows as a Markdown table (the last column, notes, is not padded). */
export function formatTable(rows: readonly ScenarioRow[]): string {
  const cells = rows.map((row) => COLUMNS.map(([, cell]) => cell(row).replaceAll("|", "/")));
  const widths = COLUMNS.map(([title], i) =>
    i === COLUMNS.length - 1 ? 0 : Math.max(title.length, ...cells.map((line) => line[i].length))
  );
  const pad = (text: string, i: number) =>
    COLUMNS[i][2] ? text.padStart(widths[i]) : text.padEnd(widths[i]);
  const line = (texts: string[]) => `| ${texts.map(pad).join(" | ")} |`;
  const rule = `|${
    COLUMNS.map(([, , right], i) =>
      right ? "-".repeat(widths[i] + 1) + ":" : "-".repeat(Math.max(3, widths[i] + 2))
    ).join("|")
  }|`;
  return [line(COLUMNS.map(([title]) => title)), rule, ...cells.map(line)].join("\n");
}

/** The broken expectations of failed scenarios, one per line. */
export function formatProblems(rows: readonly ScenarioRow[]): string {
  return rows.flatMap((row) => row.problems.map((problem) => `  [${row.id}] ${problem}`)).join(
    "\n",
  );
}

/** The document written by `--json`. */
export function jsonReport(
  env: Environment,
  mode: string,
  rows: readonly ScenarioRow[],
  seconds: number,
): string {
  return JSON.stringify(
    { ...env, mode, seconds, passed: rows.every((row) => row.ok), scenarios: rows },
    null,
    2,
  ) + "\n";
}

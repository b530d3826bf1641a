/**
 * Output and argument helpers of the operator's commands (list, retry, delete, clean, drain,
 * pause, resume, events, logs).
 *
 * @module
 */
import type { TaskRecord } from "../model/task_record.ts";
import {
  isQueryStatus,
  QUERY_STATUSES,
  type QueryStatus,
  type TaskCounts,
  type TaskEvent,
  type TaskLogLine,
} from "../model/task_query.ts";
import { CliUsageError } from "./_cli_errors.ts";
import { table } from "./_format.ts";

/** The query status a record is listed under. */
function shownStatus(record: TaskRecord, now: number): string {
  if (record.status === "new") {
    return record.runAt && record.runAt.getTime() > now ? "scheduled" : "queued";
  }
  return record.status === "process" ? "running" : record.status;
}

/** Records as a table: uuid, task, status, created, finished, attempt, error. */
export function recordsTable(records: readonly TaskRecord[], now = Date.now()): string {
  return table([
    ["UUID", "TASK", "STATUS", "CREATED", "FINISHED", "ATTEMPT", "ERROR"],
    ...records.map((r) => [
      r.uuid,
      r.taskName,
      shownStatus(r, now),
      r.createdAt.toISOString(),
      r.finishedAt?.toISOString() ?? "-",
      String(r.attempt ?? 1),
      r.error ? `${r.error.type}: ${r.error.message}`.slice(0, 60) : "",
    ]),
  ]);
}

/** Counts as a table: one row per task name and a total row, one column per status. */
export function countsText(counts: TaskCounts): string {
  const rows = [
    ["TASK", ...QUERY_STATUSES.map((s) => s.toUpperCase())],
    ...Object.entries(counts.byTaskName).map(([name, byStatus]) => [
      name,
      ...QUERY_STATUSES.map((s) => String(byStatus[s])),
    ]),
    ["(all)", ...QUERY_STATUSES.map((s) => String(counts.byStatus[s]))],
  ];
  return table(rows) + pausedLine(counts.paused, counts) + "\n";
}

/**
 * `paused: the whole app, send_email` or `paused: nothing`; with counts, each paused task name
 * says how many of its tasks wait (`send_email (2 waiting)`).
 */
export function pausedLine(
  paused: { app: boolean; taskNames: readonly string[] },
  counts?: TaskCounts,
): string {
  const waiting = (name: string) => {
    const byStatus = counts?.byTaskName[name];
    return byStatus ? ` (${byStatus.queued + byStatus.scheduled} waiting)` : "";
  };
  const what = [
    ...(paused.app ? ["the whole app"] : []),
    ...paused.taskNames.map((name) => name + waiting(name)),
  ];
  return `paused: ${what.length > 0 ? what.join(", ") : "nothing"}`;
}

/** One event as a text line. */
export function eventLine(event: TaskEvent): string {
  return `${event.at.toISOString()}  ${event.status.padEnd(9)}  ${event.taskName}  ${event.uuid}\n`;
}

/** One event as a JSON line. */
export function eventJson(event: TaskEvent): string {
  return JSON.stringify({ ...event, at: event.at.toISOString() }) + "\n";
}

/** Log lines as text. */
export function logsText(lines: readonly TaskLogLine[]): string {
  return lines.map((l) => `${l.at.toISOString()}  ${l.level.padEnd(5)}  ${l.message}\n`).join("");
}

/** A `--status` value: one of the query statuses (or of `allowed`). */
export function statusFlag(
  value: unknown,
  allowed: readonly string[] = QUERY_STATUSES,
): QueryStatus | undefined {
  if (value === undefined) return undefined;
  if (!isQueryStatus(value) || !allowed.includes(value)) {
    throw new CliUsageError(`--status must be one of ${allowed.join(", ")}, got "${value}"`);
  }
  return value;
}

const UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** A duration flag: `500ms`, `30s`, `15m`, `12h`, `7d`, or plain milliseconds. */
export function durationFlag(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(String(value).trim());
  if (!match) {
    throw new CliUsageError(
      `--${name} needs a duration such as 30s, 15m, 12h or 7d, got "${value}"`,
    );
  }
  return Math.round(Number(match[1]) * UNITS[match[2] ?? "ms"]);
}

/** A date flag (ISO 8601), or a duration before now (`1h`: an hour ago). */
export function sinceFlag(value: unknown): Date | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (/^\d+(\.\d+)?(ms|s|m|h|d)$/.test(text)) {
    return new Date(Date.now() - durationFlag("since", text)!);
  }
  const date = new Date(text);
  if (!Number.isFinite(date.getTime())) {
    throw new CliUsageError(`--since needs an ISO date or a duration such as 1h, got "${text}"`);
  }
  return date;
}

/** A positive `--limit`. */
export function limitFlag(value: unknown, max = Infinity): number | undefined {
  if (value === undefined) return undefined;
  const limit = value as number;
  if (limit < 1 || limit > max) {
    throw new CliUsageError(
      `--limit must be ${Number.isFinite(max) ? `from 1 to ${max}` : "at least 1"}, got ${limit}`,
    );
  }
  return limit;
}

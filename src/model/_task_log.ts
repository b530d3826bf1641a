/**
 * Task log lines as stored: the record's field `logs` holds one JSON object per line
 * (`{"at":ms,"level":…,"message":…}`), joined by newlines; `logs_dropped` counts the oldest lines
 * dropped by the caps.
 *
 * @module
 */
import type { TaskLogLevel, TaskLogLine } from "./task_query.ts";

const LEVELS: ReadonlySet<string> = new Set(["debug", "info", "warn", "error"]);

/** Default caps of a task's log. */
export const DEFAULT_LOG_MAX_LINES = 1000;
/** Default byte cap of a task's log (64 KiB). */
export const DEFAULT_LOG_MAX_BYTES = 65_536;

/**
 * Checks a log level.
 *
 * @throws {TypeError} Naming `level`.
 */
export function checkLogLevel(level: unknown): TaskLogLevel {
  if (level === undefined) return "info";
  if (typeof level !== "string" || !LEVELS.has(level)) {
    throw new TypeError(
      `Cannot log: level ${JSON.stringify(level)} is not one of debug, info, warn, error`,
    );
  }
  return level as TaskLogLevel;
}

/** One stored line (JSON text with no newline). */
export function encodeLogLine(atMs: number, level: TaskLogLevel, message: string): string {
  return JSON.stringify({ at: atMs, level, message: String(message) });
}

/** The lines of a record's `logs` field, with a marker line first when some were dropped. */
export function decodeLogs(logs: string | undefined, dropped: string | undefined): TaskLogLine[] {
  const lines: TaskLogLine[] = [];
  const count = Number(dropped ?? 0) || 0;
  for (const text of (logs ?? "").split("\n")) {
    if (text === "") continue;
    try {
      const value = JSON.parse(text) as { at?: unknown; level?: unknown; message?: unknown };
      lines.push({
        at: new Date(Number(value.at) || 0),
        level: typeof value.level === "string" && LEVELS.has(value.level)
          ? value.level as TaskLogLevel
          : "info",
        message: String(value.message ?? ""),
      });
    } catch {
      lines.push({ at: new Date(0), level: "info", message: text });
    }
  }
  if (count > 0) {
    lines.unshift({
      at: lines[0]?.at ?? new Date(0),
      level: "warn",
      message: `… ${count} earlier line${count === 1 ? "" : "s"} dropped (log cap)`,
    });
  }
  return lines;
}

/**
 * Appends a line to a log held in memory, with the same caps as the Redis script: returns the
 * new `logs` and `logs_dropped` fields.
 */
export function appendLogLine(
  logs: string | undefined,
  dropped: string | undefined,
  line: string,
  maxLines: number,
  maxBytes: number,
): { logs: string; logs_dropped: string } {
  const size = (text: string) => new TextEncoder().encode(text).length;
  const lines = logs ? logs.split("\n").filter((l) => l !== "") : [];
  lines.push(line);
  let bytes = lines.length - 1 + lines.reduce((sum, l) => sum + size(l), 0);
  let first = 0;
  let count = Number(dropped ?? 0) || 0;
  while (first < lines.length - 1 && (lines.length - first > maxLines || bytes > maxBytes)) {
    bytes -= size(lines[first]) + 1;
    first++;
    count++;
  }
  if (bytes > maxBytes) {
    first++;
    count++;
  }
  return { logs: lines.slice(first).join("\n"), logs_dropped: String(count) };
}

/**
 * Private: the worker's log line for a failed run (`logTaskErrors`): task name, uuid, attempt,
 * error type and message; never the arguments. What comes from data (names, messages) has its
 * control characters escaped, so a message cannot forge or break log lines.
 *
 * @module
 */
import type { Logger } from "../../model/logger.ts";
import type { TaskErrorInfo } from "../../model/task_record.ts";

/** Longest error message written (the rest is on the record). */
const MAX_MESSAGE = 500;

/**
 * Escapes control characters (C0, DEL, C1, the Unicode line and paragraph separators) as `\n`,
 * `\r`, `\t` or `\u00XX`, for one log line.
 *
 * @param text Text from data.
 * @returns The text on one line.
 *
 * @example
 * ```ts
 * import { escapeControl } from "./_failed_run_log.ts";
 *
 * console.log(escapeControl("a\nb")); // "a\\nb"
 * ```
 */
export function escapeControl(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

/** What the line says of one failed run. */
export interface FailedRun {
  /** The task's registered name. */
  taskName: string;
  /** The task's uuid. */
  uuid: string;
  /** Which attempt failed (1: the first run). */
  attempt: number;
  /** What it threw. */
  error: TaskErrorInfo;
  /** When it is retried: after how long. */
  retryInMs?: number;
}

/**
 * Writes the line: `error` for a final failure, `warn` for one that is retried.
 *
 * @param logger The app's logger.
 * @param run The failed run.
 */
export function logFailedRun(logger: Logger, run: FailedRun): void {
  let message = run.error.message;
  if (message.length > MAX_MESSAGE) message = message.slice(0, MAX_MESSAGE) + "…";
  const what = `${escapeControl(run.error.type)}: ${escapeControl(message)}`;
  const head = `Task "${escapeControl(run.taskName)}" ${run.uuid} failed (attempt ${run.attempt}`;
  if (run.retryInMs !== undefined) {
    logger.warn(`${head}, retried in ${run.retryInMs} ms): ${what}`);
  } else {
    logger.error(`${head}): ${what}`);
  }
}

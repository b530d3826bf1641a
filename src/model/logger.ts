/**
 * Log levels, from most to least verbose. `silent` logs nothing.
 *
 * @example
 * ```ts
 * import type { LogLevel } from "@qtasks/qtasks";
 *
 * const level: LogLevel = "warn";
 * ```
 */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

/**
 * Where QTasks writes its logs. Pass your own (pino, a Deno logger, …) to `QueueTasks`.
 * Task arguments and results are never logged above `debug`.
 *
 * @example
 * ```ts
 * import { type Logger, QueueTasks } from "@qtasks/qtasks";
 *
 * const lines: string[] = [];
 * const logger: Logger = {
 *   debug: () => {},
 *   info: (message) => lines.push(message),
 *   warn: (message) => lines.push(message),
 *   error: (message) => lines.push(message),
 * };
 * const app = new QueueTasks({ name: "docs-logger", logger });
 * ```
 */
export interface Logger {
  /** Detail for debugging, including task arguments. */
  debug(message: string, data?: Record<string, unknown>): void;
  /** Lifecycle events. */
  info(message: string, data?: Record<string, unknown>): void;
  /** Something went wrong but was handled. */
  warn(message: string, data?: Record<string, unknown>): void;
  /** Something failed. */
  error(message: string, data?: Record<string, unknown>): void;
  /**
   * Optional: a logger that labels every line with `bindings` (pino's `child`). A task's
   * context uses it to label its logger with the task's name and uuid.
   */
  child?(bindings: Record<string, unknown>): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/**
 * Creates the default logger: one line per event on the console, below `level` dropped. Its
 * `child(bindings)` writes the bindings (`key=value`) after the prefix. Control characters in
 * messages and bindings (a task name or an error message with a newline, an ANSI escape) are
 * written escaped (`\n`, `\x1b`), so data can never forge a log line.
 *
 * @param level The lowest level written.
 * @param prefix Written before each message.
 * @returns A {@linkcode Logger}.
 *
 * @example
 * ```ts
 * import { createLogger } from "@qtasks/qtasks";
 *
 * const logger = createLogger("warn", "[myapp]");
 * logger.info("not written");
 * logger.warn("written");
 * logger.child?.({ task: "resize" }).warn("written, labelled"); // … [myapp] task=resize WARN …
 * ```
 */
export function createLogger(level: LogLevel, prefix = "[qtasks]"): Logger {
  const threshold = ORDER[level];
  const write =
    (at: LogLevel, sink: (...data: unknown[]) => void) =>
    (message: string, data?: Record<string, unknown>): void => {
      if (ORDER[at] < threshold) return;
      const time = new Date().toISOString();
      const line = `${time} ${prefix} ${at.toUpperCase()} ${escapeControl(message)}`;
      if (data === undefined) sink(line);
      else sink(line, data);
    };
  return {
    debug: write("debug", console.debug),
    info: write("info", console.info),
    warn: write("warn", console.warn),
    error: write("error", console.error),
    child: (bindings) => {
      const labels = Object.entries(bindings).map(([key, value]) =>
        `${escapeControl(key)}=${escapeControl(String(value))}`
      );
      return createLogger(level, [prefix, ...labels].join(" "));
    },
  };
}

/** Control characters (C0, DEL, C1, line and paragraph separators). */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/g;

/**
 * Escapes the control characters of a text that goes into one log line: `\n`, `\r`, `\t` and
 * `\xNN` / `\uNNNN` for the others, so that data (a task name, an error message) cannot start
 * a line of its own or colour the terminal.
 *
 * @param text Any text.
 * @returns The text on one line.
 *
 * @example
 * ```ts
 * import { escapeControl } from "./logger.ts";
 *
 * console.log(escapeControl("evil\n2026-01-01 [qtasks] INFO forged")); // evil\n2026-01-01 [qtasks] INFO forged
 * ```
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

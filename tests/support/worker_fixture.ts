/**
 * What the worker fixture programs share (tests/e2e/fixtures/worker.ts and
 * tests/faults/fixtures/fault_worker.ts): the app's log lines on stdout, and a sleep that ends
 * when the task's signal aborts.
 *
 * @module
 */
import type { Logger } from "../../mod.ts";

/** A logger that prints `LOG <level> <message> [data as JSON]` on stdout, and drops debug lines. */
export function stdoutLogger(): Logger {
  const log = (level: string) => (message: string, data?: Record<string, unknown>) =>
    console.log(`LOG ${level} ${message}${data ? " " + JSON.stringify(data) : ""}`);
  return {
    debug: () => {},
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
  };
}

/**
 * Resolves after `ms`, or rejects when `signal` aborts (the task's signal: a lost lease, maxTime,
 * or a shutdown past the grace).
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}

import { BackendError } from "../../model/errors/backend_error.ts";
import type { Logger } from "../../model/logger.ts";
import { getRuntime } from "../../ports/runtime.ts";
import type { ShutdownSignal } from "../../ports/runtime.ts";

/**
 * How `runForever` waits: which signals stop it, and whether it exits the process.
 *
 * @example
 * ```ts
 * import type { RunForeverOptions } from "@qtasks/qtasks";
 *
 * const options: RunForeverOptions = { signals: ["SIGTERM"], exit: false };
 * ```
 */
export interface RunForeverOptions {
  /** Signals that trigger graceful shutdown (default SIGINT and SIGTERM). */
  signals?: ShutdownSignal[];
  /** Exit the process with code 0 after a graceful stop (default `true`). */
  exit?: boolean;
  /** Resolves the wait as if a signal arrived (for embedding and tests). */
  signal?: AbortSignal;
  /**
   * When the backend cannot be reached at start (a {@linkcode BackendError}): `true` (default)
   * tries again with backoff (1 s, doubling, at most 30 s), one warning per attempt, until it
   * starts or a signal arrives; `false` fails at once with that error.
   */
  retryStart?: boolean;
}

/** The first wait between start attempts, in ms; it doubles up to {@linkcode MAX_START_DELAY_MS}. */
const FIRST_START_DELAY_MS = 1_000;
const MAX_START_DELAY_MS = 30_000;

/**
 * Something that starts and stops: an app's starter, a {@linkcode Timer}, or both.
 *
 * @example
 * ```ts
 * import type { Runnable } from "./run_until_signal.ts";
 *
 * const nothing: Runnable = { start: async () => {}, stop: async () => {} };
 * ```
 */
export interface Runnable {
  /** Starts it. */
  start(): Promise<void>;
  /**
   * Stops it gracefully. Called synchronously from the first signal's handler, so whatever it
   * does before its first `await` (a worker stops taking tasks) happens at once.
   */
  stop(): Promise<void>;
}

/**
 * Starts `work`, waits for SIGINT or SIGTERM (through the runtime adapter), stops it gracefully
 * and exits with code 0 (unless `exit: false`). The handlers go in before `start`, so a signal
 * that arrives while starting still stops gracefully; a second signal exits at once with code 1.
 * `app.runForever()`, `timer.runForever()` and the `qtasks` command line all run through it.
 *
 * When the backend cannot be reached at start (Redis is down), it keeps trying, with backoff and
 * a warning per attempt (unless `retryStart: false`). A signal while it is starting or waiting to
 * try again stops it at once (`work.stop()` must not wait for a connection attempt in flight, as
 * the app's Starter does not).
 *
 * @param work What to start and stop.
 * @param logger Where the signals are logged.
 * @param options Signals, exit, and an `AbortSignal` that acts as a signal.
 *
 * @example
 * ```ts
 * import { createLogger } from "@qtasks/qtasks";
 * import { runUntilSignal } from "./run_until_signal.ts";
 *
 * const stop = new AbortController();
 * const done = runUntilSignal(
 *   { start: async () => console.log("started"), stop: async () => console.log("stopped") },
 *   createLogger("warn"),
 *   { signal: stop.signal, exit: false },
 * );
 * stop.abort();
 * await done;
 * ```
 */
export async function runUntilSignal(
  work: Runnable,
  logger: Logger,
  options: RunForeverOptions = {},
): Promise<void> {
  const runtime = getRuntime();
  const signals = options.signals ?? ["SIGINT", "SIGTERM"];
  let received = 0;
  let release: () => void = () => {};
  const stopRequested = new Promise<void>((resolve) => release = resolve);
  let stopping: Promise<void> | undefined;
  const onSignal = (name: string) => () => {
    received++;
    if (received === 1) {
      logger.info(`Received ${name}: shutting down gracefully`);
      // Called synchronously: a worker stops taking tasks before anything else runs.
      stopping = work.stop();
      release();
    } else {
      logger.warn(`Received ${name} again: exiting at once`);
      runtime.exit(1);
    }
  };
  const removers = signals.map((name) => runtime.onSignal(name, onSignal(name)));
  options.signal?.addEventListener("abort", () => release(), { once: true });
  try {
    const started = await startWithRetries(work, logger, stopRequested, options.retryStart ?? true);
    if (started) await stopRequested;
    // Stopped while starting, the stop itself does not wait for a connection attempt in flight
    // (see Starter.stop): it returns at once when nothing runs yet.
    await (stopping ?? work.stop());
  } finally {
    for (const remove of removers) remove();
  }
  if (options.exit ?? true) runtime.exit(0);
}

/**
 * Starts `work`, again with backoff while the backend is unreachable; resolves `false` as soon as
 * a stop is requested before it has started.
 */
async function startWithRetries(
  work: Runnable,
  logger: Logger,
  stopRequested: Promise<void>,
  retry: boolean,
): Promise<boolean> {
  const stop = stopRequested.then(() => ({ stop: true as const }));
  let delayMs = FIRST_START_DELAY_MS;
  for (let attempt = 1;; attempt++) {
    const starting = work.start();
    const outcome = await Promise.race([
      starting.then(() => ({ started: true as const }), (error: unknown) => ({ error })),
      stop,
    ]);
    if ("stop" in outcome) {
      starting.catch(() => {});
      return false;
    }
    if ("started" in outcome) return true;
    const error = outcome.error;
    if (!retry || !(error instanceof BackendError)) throw error;
    logger.warn(
      `Cannot start (attempt ${attempt}): ${
        firstLine(error.message)
      }; trying again in ${delayMs} ms (Ctrl-C to give up)`,
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = await Promise.race([
      new Promise<"again">((resolve) => timer = setTimeout(() => resolve("again"), delayMs)),
      stop,
    ]);
    clearTimeout(timer);
    if (waited !== "again") return false;
    delayMs = Math.min(MAX_START_DELAY_MS, delayMs * 2);
  }
}

function firstLine(text: string): string {
  return text.split("\n")[0];
}

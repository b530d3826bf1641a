import type { QueueTasks } from "../app/queue_tasks.ts";
import type { Runnable } from "../starter/run_until_signal.ts";
import { AsyncWorker } from "../worker/async_worker.ts";
import { CliUsageError } from "./cli_errors.ts";

/** The flags of `qtasks worker` that shape the worker. */
export interface WorkerFlags {
  /** `--concurrency N`: tasks run at once (per thread, with a pool). */
  concurrency?: number;
  /** `--pool-size N`: run the tasks on a pool of N Web Worker threads. */
  poolSize?: number;
  /** The URL of the app's module: what each pool thread imports to find the tasks. */
  moduleUrl: string;
}

/**
 * What `qtasks worker` starts and stops: the app with its own worker, or (`--pool-size`) a pool
 * built for it.
 *
 * @throws {CliUsageError} For flags the app's worker cannot take.
 */
export function workerRunnable(app: QueueTasks, flags: WorkerFlags): Runnable {
  for (const [flag, value] of [["concurrency", flags.concurrency], ["pool-size", flags.poolSize]]) {
    if (value !== undefined && (value as number) < 1) {
      throw new CliUsageError(`--${flag} must be at least 1, got ${value}`);
    }
  }
  if (flags.poolSize !== undefined) return poolRunnable(app, flags.poolSize, flags);
  if (flags.concurrency !== undefined) {
    if (!(app.worker instanceof AsyncWorker)) {
      throw new CliUsageError(
        `--concurrency applies to an AsyncWorker; app "${app.name}" runs a ${app.worker.constructor.name} (set its concurrency in the module)`,
      );
    }
    app.worker.concurrency = flags.concurrency;
  }
  return { start: () => app.start(), stop: () => app.stop() };
}

/**
 * The seam for the Web Worker pool (issue 7): build the pool for `app` here (for example a
 * `WorkerPool` on `app.broker` importing `flags.moduleUrl` in each of `size` threads, running
 * `flags.concurrency` tasks per thread) and return what starts and stops it with the app's broker
 * chain. Until the pool exists, `--pool-size` is refused as a usage error.
 */
function poolRunnable(app: QueueTasks, size: number, flags: WorkerFlags): Runnable {
  void app;
  void flags;
  throw new CliUsageError(
    `--pool-size ${size}: the Web Worker pool (WorkerPool) is not part of this build yet`,
  );
}

import type { QueueTasks } from "../app/queue_tasks.ts";
import type { Runnable } from "../engine/starter/run_until_signal.ts";
import type { ComponentContext } from "../ports/broker.ts";
import { Starter } from "../engine/starter/starter.ts";
import { reportStatsOf } from "../engine/_stats_recorder.ts";
import { AsyncWorker } from "../engine/worker/async_worker.ts";
import type { Worker } from "../ports/worker.ts";
import { WorkerPool } from "../engine/worker/worker_pool.ts";
import { CliUsageError } from "./_cli_errors.ts";
import { readWorkerQueues, type WorkerQueue } from "../model/queue_name.ts";

/** The flags of `qtasks worker` that shape the worker. */
export interface WorkerFlags {
  /** `--concurrency N`: tasks run at once (per thread, with a pool). */
  concurrency?: number;
  /** `--pool-size N`: run the tasks on a pool of N Web Worker threads. */
  poolSize?: number;
  /** `--queues a,b:2`: the queues to take tasks from, in order, with optional weights. */
  queues?: string;
  /** The URL of the app's module: what each pool thread imports to find the tasks. */
  moduleUrl: string;
  /** The export of that module that holds the app (`./app.ts:export`), if the command named one. */
  exportName?: string;
}

/** What `qtasks worker` runs: start and stop, and the worker that takes the tasks. */
export interface WorkerRunnable extends Runnable {
  /** The app's worker, or the pool built for `--pool-size`. */
  readonly worker: Worker;
}

/**
 * What `qtasks worker` starts and stops: the app with its own worker, or (`--pool-size`) a pool
 * built for it.
 *
 * @throws {CliUsageError} For flags the app's worker cannot take.
 */
export function workerRunnable(app: QueueTasks, flags: WorkerFlags): WorkerRunnable {
  for (const [flag, value] of [["concurrency", flags.concurrency], ["pool-size", flags.poolSize]]) {
    if (value !== undefined && (value as number) < 1) {
      throw new CliUsageError(`--${flag} must be at least 1, got ${value}`);
    }
  }
  const queues = flags.queues === undefined ? undefined : parseQueuesFlag(flags.queues);
  if (flags.poolSize !== undefined) {
    const runnable = poolRunnable(app, flags.poolSize, flags);
    if (queues !== undefined) (runnable.worker as WorkerPool).queues = queues;
    return runnable;
  }
  if (queues !== undefined) {
    if (!(app.worker instanceof AsyncWorker)) {
      throw new CliUsageError(
        `--queues applies to an AsyncWorker; app "${app.name}" runs a ${app.worker.constructor.name} (set its queues in the module)`,
      );
    }
    app.worker.queues = queues;
  }
  if (flags.concurrency !== undefined) {
    if (!(app.worker instanceof AsyncWorker)) {
      throw new CliUsageError(
        `--concurrency applies to an AsyncWorker; app "${app.name}" runs a ${app.worker.constructor.name} (set its concurrency in the module)`,
      );
    }
    app.worker.concurrency = flags.concurrency;
  }
  return { start: () => app.start(), stop: () => app.stop(), worker: app.worker };
}

/**
 * `--pool-size N`: a {@linkcode WorkerPool} of N threads on the app's broker, in place of the
 * app's own worker, each thread importing the app's module (the export the command named, else
 * the module's app) and running `--concurrency` tasks at once (default 1). It gets the app's
 * tasks, config, logger, events, plugins and middlewares, and starts and stops with the app's
 * broker chain; the app's own worker stays idle.
 */
function poolRunnable(app: QueueTasks, size: number, flags: WorkerFlags): WorkerRunnable {
  const pool = new WorkerPool({
    broker: app.broker,
    module: flags.moduleUrl,
    exportName: flags.exportName,
    size,
    concurrencyPerThread: flags.concurrency ?? 1,
  });
  pool.bind({
    name: app.name,
    tasks: app.tasks,
    config: app.config,
    logger: app.logger,
    events: app.events,
    plugins: app.plugins,
    get middlewaresBefore() {
      return app.middlewaresBefore;
    },
    get middlewaresAfter() {
      return app.middlewaresAfter;
    },
  });
  reportStatsOf(app, pool);
  const starter = new Starter({ broker: app.broker, worker: pool });
  const context: ComponentContext = {
    config: app.config,
    logger: app.logger,
    appName: app.name,
    events: app.events,
    plugins: app.plugins,
  };
  return {
    start: () => starter.start(context),
    stop: () => starter.stop({}, context),
    worker: pool,
  };
}

/**
 * Reads `--queues`: comma-separated names, each with an optional `:weight`.
 *
 * @throws {CliUsageError} On an empty list, a bad name or a weight that is not a positive integer.
 */
function parseQueuesFlag(text: string): WorkerQueue[] {
  const queues: WorkerQueue[] = [];
  for (const part of text.split(",").map((p) => p.trim()).filter((p) => p !== "")) {
    const [name, weight, extra] = part.split(":");
    if (extra !== undefined || (weight !== undefined && !/^[1-9][0-9]*$/.test(weight))) {
      throw new CliUsageError(
        `--queues takes NAME or NAME:WEIGHT (a positive integer), comma-separated; got "${part}"`,
      );
    }
    queues.push(weight === undefined ? { name } : { name, weight: Number(weight) });
  }
  try {
    readWorkerQueues(queues, "--queues");
  } catch (error) {
    throw new CliUsageError((error as Error).message);
  }
  return queues;
}

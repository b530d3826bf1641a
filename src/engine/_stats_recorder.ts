import type { Broker } from "../ports/broker.ts";
import type { QueueConfig } from "../model/queue_config.ts";
import type { AppEvents } from "../plugins/app_events.ts";
import type { Logger } from "../model/logger.ts";
import type { PluginHub } from "../plugins/plugin_hub.ts";
import { getRuntime } from "../ports/runtime.ts";
import type { Worker } from "../ports/worker.ts";
import type { WorkerReport } from "../model/worker_report.ts";

/** What the recorder needs from the app. */
export interface StatsRecorderHost {
  readonly broker: Broker;
  readonly worker: Worker;
  readonly config: QueueConfig;
  readonly logger: Logger;
  readonly events: AppEvents;
  readonly plugins: PluginHub;
}

/** Workers that run an app's tasks in place of its own (`qtasks worker --pool-size`). */
const reported = new WeakMap<object, Worker>();

/**
 * Makes the stats of `host` describe `worker` (how many tasks it runs now) instead of the app's
 * own worker: for a worker built for the app later, such as the CLI's pool.
 *
 * @param host The app.
 * @param worker The worker that runs its tasks.
 */
export function reportStatsOf(host: StatsRecorderHost, worker: Worker): void {
  reported.set(host, worker);
}

/**
 * Keeps a worker's stats: counts the tasks it finishes (an `app.events` `taskStopping` handler:
 * two integer increments per task, no I/O), and reports them with its heartbeat record to the
 * app's GlobalConfig every `statsIntervalMs` (one Redis script call), at its start and at its
 * stop. It is a plugin on `worker_start` and `worker_stop`, so the first report is written
 * before the worker takes tasks and the last one before the broker chain stops.
 *
 * The app attaches one when `config.statsEnabled` (default `true`).
 *
 * @param host The app.
 */
export function attachStatsRecorder(host: StatsRecorderHost): void {
  const runtime = getRuntime();
  let processed = 0;
  let failed = 0;
  let totalProcessed = 0;
  let totalFailed = 0;
  let identity: Omit<WorkerReport, "active" | "processed" | "failed" | "stopped"> | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let chain: Promise<void> = Promise.resolve();

  host.events.on("taskStopping", ({ status }) => {
    processed++;
    if (status === "error") failed++;
  });

  const report = (stopped: boolean): Promise<void> => {
    chain = chain.then(async () => {
      const globalConfig = host.broker.storage.globalConfig;
      if (!globalConfig || !identity) return;
      const delta = { processed, failed };
      processed = 0;
      failed = 0;
      try {
        await globalConfig.reportWorker({
          ...identity,
          active: ((reported.get(host) ?? host.worker) as { active?: number }).active ?? 0,
          ...delta,
          stopped,
        });
        totalProcessed += delta.processed;
        totalFailed += delta.failed;
        host.logger.debug(
          `Worker stats reported (${totalProcessed} processed, ${totalFailed} failed in total)`,
        );
      } catch (error) {
        // Kept for the next report.
        processed += delta.processed;
        failed += delta.failed;
        host.logger.warn(`Worker stats report failed: ${(error as Error).message}`);
      }
    });
    return chain;
  };

  void host.plugins.add({
    name: "qtasks-stats",
    handlers: {
      worker_start: async ({ workerId, concurrency }) => {
        const { config } = host;
        identity = {
          workerId,
          host: runtime.hostname(),
          pid: runtime.pid,
          runtime: `${runtime.name} ${runtime.version}`,
          concurrency,
          startedAt: Date.now(),
          ttlMs: Math.max(config.globalConfigStatusTtlMs, 2 * config.statsIntervalMs),
        };
        totalProcessed = 0;
        totalFailed = 0;
        clearInterval(timer);
        timer = setInterval(() => void report(false), config.statsIntervalMs);
        await report(false);
      },
      worker_stop: async () => {
        clearInterval(timer);
        timer = undefined;
        await report(true);
        identity = undefined;
      },
    },
  });
}

import type { QueueTasks } from "../app/queue_tasks.ts";
import { readAppStats } from "../app/app_stats.ts";
import type { TaskCounts } from "../model/task_query.ts";

/**
 * The content type of the Prometheus text exposition format (version 0.0.4).
 *
 * @example
 * ```ts
 * import { PROMETHEUS_CONTENT_TYPE } from "@qtasks/qtasks/metrics";
 *
 * console.log(PROMETHEUS_CONTENT_TYPE); // "text/plain; version=0.0.4; charset=utf-8"
 * ```
 */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Record<string, string | number>;

/** One metric family: its samples, written with `# HELP` and `# TYPE`. */
interface Family {
  name: string;
  type: "gauge" | "counter";
  help: string;
  samples: Array<{ labels: Labels; value: number }>;
}

/** A label value escaped for the text format (backslash, double quote, newline). */
function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** The families as Prometheus text (families with no sample are left out). */
function render(families: readonly Family[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (family.samples.length === 0) continue;
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    for (const { labels, value } of family.samples) {
      const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(String(v))}"`);
      lines.push(
        `${family.name}${pairs.length ? `{${pairs.join(",")}}` : ""} ${formatValue(value)}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

function family(name: string, type: Family["type"], help: string): Family {
  return { name, type, help, samples: [] };
}

/**
 * What {@linkcode collectPrometheusText} reads for one app, all from its backend: the queue
 * (stats), the records per task name and status and what is paused (the operations API), and the
 * workers' heartbeat records.
 */
async function readApp(app: QueueTasks): Promise<
  { stats: Awaited<ReturnType<typeof readAppStats>>; counts: TaskCounts | undefined }
> {
  const [stats, counts] = await Promise.all([
    readAppStats(app),
    app.broker.operations?.counts(),
  ]);
  return { stats, counts };
}

/**
 * Reads the apps' state from their backends and writes it in the Prometheus text format
 * (version 0.0.4): what `qtasks metrics` and {@linkcode metricsHandler} serve. Needs no code of
 * the apps: an app made from a Redis URL and a name will do. Every sample has an `app` label:
 *
 * - `qtasks_up` (gauge): 1 when the backend answered, else 0 (and nothing else for that app);
 * - `qtasks_queue_depth{priority}`, `qtasks_queue_scheduled`, `qtasks_queue_quarantined`,
 *   `qtasks_queue_in_flight` (gauges): waiting tasks per priority, delayed tasks and retries not
 *   yet due, tasks recovered from dead workers, tasks claimed by workers;
 * - `qtasks_tasks{task_name,status}` (gauge): the records kept, per task name and status
 *   (`queued`, `scheduled`, `running`, `success`, `error`, `cancel`, `retry`; finished ones until
 *   they expire);
 * - `qtasks_processed_total`, `qtasks_failed_total` (counters): the app's tasks processed and
 *   failed, from the workers' reports; `qtasks_last_minute_tasks{outcome}` (gauge);
 * - `qtasks_workers` (gauge): live workers; per worker (`worker`, `host`, `runtime` labels)
 *   `qtasks_worker_concurrency`, `qtasks_worker_active_tasks`, `qtasks_worker_uptime_seconds`
 *   (gauges), `qtasks_worker_processed_total`, `qtasks_worker_failed_total` (counters);
 * - `qtasks_paused` (gauge): 1 when the app is paused; `qtasks_task_paused{task_name}`: 1 per
 *   paused task name.
 *
 * @param apps The apps to read (each once per call).
 * @returns The text.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { collectPrometheusText } from "@qtasks/qtasks/metrics";
 *
 * const app = new QueueTasks({ name: "docs-prometheus" });
 * const text = await collectPrometheusText([app]);
 * console.log(text.includes('qtasks_up{app="docs-prometheus"} 1')); // true
 * ```
 */
export async function collectPrometheusText(apps: readonly QueueTasks[]): Promise<string> {
  const up = family(
    "qtasks_up",
    "gauge",
    "Whether the app's backend answered the scrape (1) or not (0).",
  );
  const depth = family("qtasks_queue_depth", "gauge", "Tasks waiting in the queue, per priority.");
  const scheduled = family(
    "qtasks_queue_scheduled",
    "gauge",
    "Delayed tasks and retries not yet due.",
  );
  const quarantined = family(
    "qtasks_queue_quarantined",
    "gauge",
    "Tasks recovered from dead workers, waiting to run alone.",
  );
  const inFlight = family("qtasks_queue_in_flight", "gauge", "Tasks claimed by workers.");
  const tasks = family(
    "qtasks_tasks",
    "gauge",
    "Task records kept, per task name and status (finished ones until they expire).",
  );
  const processed = family(
    "qtasks_processed_total",
    "counter",
    "Tasks the app's workers processed.",
  );
  const failed = family("qtasks_failed_total", "counter", "Tasks of the app that failed.");
  const lastMinute = family(
    "qtasks_last_minute_tasks",
    "gauge",
    "Tasks processed and failed over the last minute.",
  );
  const workers = family("qtasks_workers", "gauge", "Live workers (from their heartbeat records).");
  const concurrency = family("qtasks_worker_concurrency", "gauge", "A live worker's concurrency.");
  const active = family("qtasks_worker_active_tasks", "gauge", "Tasks a live worker is running.");
  const uptime = family("qtasks_worker_uptime_seconds", "gauge", "How long a live worker has run.");
  const workerProcessed = family(
    "qtasks_worker_processed_total",
    "counter",
    "Tasks a live worker processed since it started.",
  );
  const workerFailed = family(
    "qtasks_worker_failed_total",
    "counter",
    "Tasks that failed on a live worker since it started.",
  );
  const paused = family("qtasks_paused", "gauge", "Whether the app is paused (1) or not (0).");
  const taskPaused = family("qtasks_task_paused", "gauge", "Task names whose tasks are paused.");

  const reads = await Promise.allSettled(apps.map(readApp));
  reads.forEach((read, i) => {
    const app = apps[i].name;
    up.samples.push({ labels: { app }, value: read.status === "fulfilled" ? 1 : 0 });
    if (read.status === "rejected") return;
    const { stats, counts } = read.value;
    const { queue } = stats;
    for (const { priority, count } of queue.byPriority) {
      depth.samples.push({ labels: { app, priority }, value: count });
    }
    scheduled.samples.push({ labels: { app }, value: queue.scheduled });
    quarantined.samples.push({ labels: { app }, value: queue.quarantined });
    inFlight.samples.push({ labels: { app }, value: queue.inFlight });
    processed.samples.push({ labels: { app }, value: stats.processed });
    failed.samples.push({ labels: { app }, value: stats.failed });
    lastMinute.samples.push(
      { labels: { app, outcome: "processed" }, value: stats.lastMinute.processed },
      { labels: { app, outcome: "failed" }, value: stats.lastMinute.failed },
    );
    workers.samples.push({ labels: { app }, value: stats.workers.length });
    for (const w of stats.workers) {
      const labels = { app, worker: w.workerId, host: w.host, runtime: w.runtime };
      concurrency.samples.push({ labels, value: w.concurrency });
      active.samples.push({ labels, value: w.active });
      uptime.samples.push({ labels, value: Math.max(0, (stats.now - w.startedAt) / 1000) });
      workerProcessed.samples.push({ labels, value: w.processed });
      workerFailed.samples.push({ labels, value: w.failed });
    }
    if (counts !== undefined) {
      for (const [taskName, byStatus] of Object.entries(counts.byTaskName)) {
        for (const [status, value] of Object.entries(byStatus)) {
          tasks.samples.push({ labels: { app, task_name: taskName, status }, value });
        }
      }
      paused.samples.push({ labels: { app }, value: counts.paused.app ? 1 : 0 });
      for (const taskName of counts.paused.taskNames) {
        taskPaused.samples.push({ labels: { app, task_name: taskName }, value: 1 });
      }
    }
  });
  return render([
    up,
    depth,
    scheduled,
    quarantined,
    inFlight,
    tasks,
    processed,
    failed,
    lastMinute,
    workers,
    concurrency,
    active,
    uptime,
    workerProcessed,
    workerFailed,
    paused,
    taskPaused,
  ]);
}

/**
 * A Web-standard handler, `(request: Request) => Promise<Response>`, that answers `GET` and
 * `HEAD` with {@linkcode collectPrometheusText} of the apps (any path: mount it where you like,
 * next to the dashboard's handler), and other methods with 405. The body never holds a backend's
 * URL or an error message (a backend that fails shows as `qtasks_up 0`).
 *
 * @param apps One app or several.
 * @returns The handler.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { metricsHandler } from "@qtasks/qtasks/metrics";
 *
 * const app = new QueueTasks({ name: "docs-metrics-handler" });
 * const handler = metricsHandler(app);
 * const response = await handler(new Request("http://localhost/metrics"));
 * console.log(response.status, response.headers.get("content-type")); // 200 "text/plain; version=0.0.4; charset=utf-8"
 * ```
 */
export function metricsHandler(
  apps: QueueTasks | readonly QueueTasks[],
): (request: Request) => Promise<Response> {
  const list: readonly QueueTasks[] = Array.isArray(apps) ? apps : [apps as QueueTasks];
  return async (request: Request): Promise<Response> => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method Not Allowed\n", {
        status: 405,
        headers: { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" },
      });
    }
    const text = await collectPrometheusText(list);
    return new Response(request.method === "HEAD" ? null : text, {
      status: 200,
      headers: { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" },
    });
  };
}

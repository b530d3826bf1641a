/**
 * Prometheus metrics of QTasks apps read from their backends (queue depth by priority, records per
 * task name and status, the app's counters, live workers, what is paused): the text, and a
 * Web-standard handler to mount anywhere, as `qtasks metrics` serves it. Needs no code of the
 * apps, and no OpenTelemetry. See docs/observability.md.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { metricsHandler } from "@qtasks/qtasks/metrics";
 *
 * const handler = metricsHandler(new QueueTasks({ name: "docs-metrics-mod" }));
 * console.log((await handler(new Request("http://localhost/metrics"))).status); // 200
 * ```
 *
 * @module
 */
export {
  collectPrometheusText,
  metricsHandler,
  PROMETHEUS_CONTENT_TYPE,
} from "./prometheus_metrics.ts";

/**
 * OpenTelemetry for QTasks: spans across enqueue and run, linked by W3C trace context carried in
 * the task's headers, and metrics, through `@opentelemetry/api` (bring your own SDK). The only
 * module of the package that loads `@opentelemetry/api`; the core never imports it. See
 * docs/observability.md.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { instrumentApp } from "@qtasks/qtasks/otel";
 *
 * const app = new QueueTasks({ name: "docs-otel-mod" });
 * await instrumentApp(app);
 * ```
 *
 * @module
 */
export {
  type AppInstrumentation,
  instrumentApp,
  INSTRUMENTATION_NAME,
  type OtelInstrumentation,
  otelInstrumentation,
  type OtelInstrumentationOptions,
} from "./otel_instrumentation.ts";

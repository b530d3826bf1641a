import {
  type Attributes,
  type BatchObservableResult,
  type Context,
  context,
  type Counter,
  createNoopMeter,
  type Histogram,
  type Link,
  type Meter,
  type MeterProvider,
  metrics,
  type ObservableGauge,
  propagation,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import type { Plugin } from "../plugins/plugin.ts";
import type { TaskMiddleware } from "../plugins/task_middleware.ts";
import type { TaskErrorInfo } from "../model/task_record.ts";
import type { Settlement } from "../model/messages.ts";
import type { QueueTasks } from "../app/queue_tasks.ts";
import { readAppStats } from "../app/app_stats.ts";

/**
 * The instrumentation scope name of QTasks' tracer and meter.
 *
 * @example
 * ```ts
 * import { INSTRUMENTATION_NAME } from "@qtasks/qtasks/otel";
 *
 * console.log(INSTRUMENTATION_NAME); // "qtasks"
 * ```
 */
export const INSTRUMENTATION_NAME = "qtasks";

/** What `messaging.system` says on every span. */
const SYSTEM = "qtasks";

/** Advisory bucket boundaries of the duration histograms, in seconds (OTel messaging). */
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/**
 * Options of {@linkcode otelInstrumentation} and {@linkcode instrumentApp}.
 *
 * @example
 * ```ts
 * import type { OtelInstrumentationOptions } from "@qtasks/qtasks/otel";
 *
 * const options: OtelInstrumentationOptions = { processSpan: "link", observeQueue: true };
 * ```
 */
export interface OtelInstrumentationOptions {
  /**
   * Where spans go: an OpenTelemetry `TracerProvider` (default: the global one,
   * `trace.getTracerProvider()`).
   */
  tracerProvider?: { getTracer(name: string): unknown };
  /**
   * Where metrics go: an OpenTelemetry `MeterProvider` (default: the global one,
   * `metrics.getMeterProvider()`).
   */
  meterProvider?: { getMeter(name: string): unknown };
  /**
   * How a run's `process` span relates to the `create` span of its enqueue: `"parent"` (default:
   * a child, so one trace goes from the request that enqueued the task to every run of it, its
   * retries and the next steps of its chain) or `"link"` (a new trace per run, with a link to the
   * creation context, as the messaging conventions recommend for long-lived flows).
   */
  processSpan?: "parent" | "link";
  /** Record spans (default `true`). */
  traces?: boolean;
  /** Record metrics (default `true`). */
  metrics?: boolean;
  /**
   * Also observe the queue (depth by priority, scheduled, in flight) and the live workers as
   * gauges, read from the backend at each collection (default `false`: turn it on in one process
   * only, or scrape `qtasks metrics`, so that several processes do not report the same queue).
   */
  observeQueue?: boolean;
}

/**
 * What {@linkcode otelInstrumentation} builds: a plugin (enqueue and run spans, counters and
 * histograms) and a middleware (makes the run's span the active context inside the task).
 *
 * @example
 * ```ts
 * import type { OtelInstrumentation } from "@qtasks/qtasks/otel";
 *
 * function parts(instrumentation: OtelInstrumentation): string {
 *   return instrumentation.plugin.name;
 * }
 * ```
 */
export interface OtelInstrumentation {
  /** Add it to the app (`app.addPlugin(plugin)`). */
  readonly plugin: Plugin;
  /** Add it app-wide, first (`app.addMiddleware(middleware, "before")`). */
  readonly middleware: TaskMiddleware;
  /** Ends the spans of runs still open (the plugin's `stop` calls it). */
  endOpenSpans(reason: string): void;
}

/**
 * What {@linkcode instrumentApp} installed: what it records, from the SDK it found.
 *
 * @example
 * ```ts
 * import type { AppInstrumentation } from "@qtasks/qtasks/otel";
 *
 * function describe(installed: AppInstrumentation): string {
 *   return installed.traces || installed.metrics ? "on" : "off (no SDK registered)";
 * }
 * ```
 */
export interface AppInstrumentation {
  /** Spans are recorded: a tracer provider was given or registered. */
  readonly traces: boolean;
  /** Metrics are recorded: a meter provider was given or registered. */
  readonly metrics: boolean;
  /** The plugin and middleware added, when either is recorded. */
  readonly instrumentation: OtelInstrumentation | undefined;
}

interface Run {
  span: Span | undefined;
  active: Context | undefined;
  started: number;
  /** The metrics' attributes: app (`messaging.destination.name`) and task name. */
  attributes: Attributes;
}

interface Instruments {
  enqueued: Counter;
  started: Counter;
  succeeded: Counter;
  failed: Counter;
  retried: Counter;
  cancelled: Counter;
  duration: Histogram;
  wait: Histogram;
}

function instruments(meter: Meter): Instruments {
  const counter = (name: string, description: string) =>
    meter.createCounter(name, { description, unit: "{task}" });
  const seconds = (name: string, description: string) =>
    meter.createHistogram(name, {
      description,
      unit: "s",
      advice: { explicitBucketBoundaries: SECONDS_BUCKETS },
    });
  return {
    enqueued: counter("qtasks.tasks.enqueued", "Tasks stored and queued (or scheduled)"),
    started: counter("qtasks.tasks.started", "Runs started by a worker"),
    succeeded: counter("qtasks.tasks.succeeded", "Runs that succeeded"),
    failed: counter("qtasks.tasks.failed", "Runs that failed with no retry left"),
    retried: counter("qtasks.tasks.retried", "Runs that failed and were retried"),
    cancelled: counter("qtasks.tasks.cancelled", "Runs that were cancelled"),
    duration: seconds("qtasks.task.duration", "How long a run took, from start to settlement"),
    wait: seconds(
      "qtasks.task.wait",
      "How long a task waited in the queue before a worker took it",
    ),
  };
}

/** The tracer provider of the options, or the global one. */
function tracerProviderOf(options: OtelInstrumentationOptions): TracerProvider {
  return (options.tracerProvider as TracerProvider | undefined) ?? trace.getTracerProvider();
}

/** The meter provider of the options, or the global one. */
function meterProviderOf(options: OtelInstrumentationOptions): MeterProvider {
  return (options.meterProvider as MeterProvider | undefined) ?? metrics.getMeterProvider();
}

/** Whether spans would be recorded: a provider given, or a real one registered globally. */
function hasTracerProvider(options: OtelInstrumentationOptions): boolean {
  if (options.tracerProvider !== undefined) return true;
  const global = trace.getTracerProvider();
  return !(global instanceof ProxyTracerProvider) ||
    global.getDelegateTracer(INSTRUMENTATION_NAME) !== undefined;
}

/** Whether metrics would be recorded: a provider given, or a real one registered globally. */
function hasMeterProvider(options: OtelInstrumentationOptions): boolean {
  return options.meterProvider !== undefined ||
    metrics.getMeterProvider().getMeter(INSTRUMENTATION_NAME) !== createNoopMeter();
}

/** The OTel exception of a stored error (type, message, stack). */
function recordError(span: Span, error: TaskErrorInfo): void {
  span.recordException({ name: error.type, message: error.message, stack: error.stack });
  span.setAttribute("error.type", error.type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}

/**
 * Builds the OpenTelemetry instrumentation of QTasks: with {@linkcode instrumentApp} (or its
 * plugin and middleware added by hand), each enqueue gets a `create <app>` span (kind PRODUCER)
 * whose context is injected into the task's headers (W3C `traceparent`/`tracestate`, with the
 * registered propagator), and each run a `process <app>` span (kind CONSUMER), a child of that
 * context (or linked to it: `processSpan: "link"`), active while the task runs. Retries and the
 * next steps of a chain or group carry the same headers. Attributes follow the OpenTelemetry
 * messaging conventions (`messaging.system` `qtasks`, `messaging.destination.name` the app,
 * `messaging.operation.type`/`name`, `messaging.message.id` the task's uuid,
 * `messaging.client.id` the worker) plus `qtasks.task.name`, `qtasks.task.attempt`,
 * `qtasks.task.delivery`, `qtasks.task.priority`; a failed run records its error. Metrics:
 * counters `qtasks.tasks.{enqueued,started,succeeded,failed,retried,cancelled}` and histograms
 * `qtasks.task.duration` and `qtasks.task.wait` (seconds), per app and task name.
 *
 * Added by hand without an SDK, the parts run on the API's no-op tracer and meter: no header is
 * stored and nothing is recorded, but the worker still runs the plugin's hooks for every task
 * (docs/observability.md gives their cost); {@linkcode instrumentApp} adds nothing then.
 *
 * @param options Providers, parent or link mode, what to record.
 * @returns The plugin and the middleware.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { otelInstrumentation } from "@qtasks/qtasks/otel";
 *
 * const app = new QueueTasks({ name: "docs-otel-parts" });
 * const { plugin, middleware } = otelInstrumentation();
 * await app.addPlugin(plugin);
 * app.addMiddleware(middleware, "before");
 * ```
 */
export function otelInstrumentation(options: OtelInstrumentationOptions = {}): OtelInstrumentation {
  const tracing = options.traces !== false;
  const metering = options.metrics !== false;
  const tracer: Tracer | undefined = tracing
    ? tracerProviderOf(options).getTracer(INSTRUMENTATION_NAME)
    : undefined;
  const meter = metering ? meterProviderOf(options).getMeter(INSTRUMENTATION_NAME) : undefined;
  const counters = meter ? instruments(meter) : undefined;
  const linkMode = options.processSpan === "link";
  const runs = new Map<string, Run>();

  const endOpenSpans = (reason: string): void => {
    for (const [uuid, run] of runs) {
      run.span?.setAttribute("qtasks.task.status", reason);
      run.span?.end();
      runs.delete(uuid);
    }
  };

  const settle = (settlement: Settlement): void => {
    const run = runs.get(settlement.uuid);
    if (run === undefined) return;
    runs.delete(settlement.uuid);
    const { span } = run;
    const status = settlement.status;
    if (counters) {
      const attributes = run.attributes;
      if (status === "success") counters.succeeded.add(1, attributes);
      else if (status === "error") counters.failed.add(1, attributes);
      else if (status === "retry") counters.retried.add(1, attributes);
      else if (status === "cancel") counters.cancelled.add(1, attributes);
      if (status !== "release") {
        counters.duration.record((performance.now() - run.started) / 1000, {
          ...attributes,
          "qtasks.task.status": status,
        });
      }
    }
    if (span === undefined) return;
    span.setAttribute("qtasks.task.status", status);
    if (settlement.status === "error") recordError(span, settlement.error);
    else if (settlement.status === "retry") {
      recordError(span, settlement.error);
      span.setAttribute("qtasks.task.retry_delay_ms", settlement.delayMs);
    } else if (settlement.status === "cancel") {
      span.setAttribute("qtasks.task.cancel_reason", settlement.reason);
    }
    span.end();
  };

  const plugin: Plugin = {
    name: "opentelemetry",
    handlers: {
      broker_add_before: ({ appName, task }) => {
        if (tracer === undefined) return;
        const parent = context.active();
        const span = tracer.startSpan(`create ${appName}`, {
          kind: SpanKind.PRODUCER,
          attributes: {
            "messaging.system": SYSTEM,
            "messaging.destination.name": appName,
            "messaging.operation.type": "create",
            "messaging.operation.name": "create",
            "messaging.message.id": task.uuid,
            "qtasks.task.name": task.taskName,
            "qtasks.task.priority": task.priority,
            ...(task.delayMs ? { "qtasks.task.delay_ms": task.delayMs } : undefined),
          },
        }, parent);
        const headers: Record<string, string> = { ...task.headers };
        propagation.inject(trace.setSpan(parent, span), headers);
        span.end();
        for (const _ in headers) return { task: { ...task, headers } };
      },
      broker_add_after: ({ appName, task }) => {
        counters?.enqueued.add(1, {
          "messaging.destination.name": appName,
          "qtasks.task.name": task.taskName,
        });
      },
      worker_execute_before: ({ appName, workerId, task }) => {
        const attempt = task.attempt ?? 1;
        const attributes: Attributes = {
          "messaging.destination.name": appName,
          "qtasks.task.name": task.taskName,
        };
        if (counters) {
          counters.started.add(1, attributes);
          if (task.waitedMs !== undefined) counters.wait.record(task.waitedMs / 1000, attributes);
        }
        let span: Span | undefined;
        let active: Context | undefined;
        if (tracer !== undefined) {
          // The worker's own context never leaks in: a run starts from the root.
          const creation = task.headers === undefined
            ? undefined
            : propagation.extract(ROOT_CONTEXT, task.headers);
          const created = creation === undefined ? undefined : trace.getSpanContext(creation);
          const links: Link[] = linkMode && created !== undefined ? [{ context: created }] : [];
          span = tracer.startSpan(`process ${appName}`, {
            kind: SpanKind.CONSUMER,
            links,
            attributes: {
              "messaging.system": SYSTEM,
              "messaging.destination.name": appName,
              "messaging.operation.type": "process",
              "messaging.operation.name": "process",
              "messaging.message.id": task.uuid,
              "messaging.client.id": workerId,
              "qtasks.task.name": task.taskName,
              "qtasks.task.attempt": attempt,
              "qtasks.task.delivery": task.deliveries,
              "qtasks.task.priority": task.priority,
            },
          }, linkMode || creation === undefined ? ROOT_CONTEXT : creation);
          active = trace.setSpan(ROOT_CONTEXT, span);
        }
        runs.set(task.uuid, { span, active, started: performance.now(), attributes });
      },
      worker_remove_finished_task: ({ settlement }) => settle(settlement),
      worker_stop: () => endOpenSpans("release"),
    },
    stop: () => endOpenSpans("release"),
  };

  const middleware: TaskMiddleware = (call, next) => {
    const active = runs.get(call.uuid)?.active;
    return active === undefined ? next() : context.with(active, next);
  };

  return { plugin, middleware, endOpenSpans };
}

/** Handles of {@linkcode observeQueue}'s gauges. */
interface QueueGauges {
  depth: ObservableGauge;
  scheduled: ObservableGauge;
  inFlight: ObservableGauge;
  workers: ObservableGauge;
}

/**
 * Observes an app's queue and workers as gauges read from its backend at each collection:
 * `qtasks.queue.depth` (waiting tasks, per priority), `qtasks.queue.scheduled`,
 * `qtasks.queue.in_flight` and `qtasks.workers` (live workers).
 *
 * @param app The app to read.
 * @param meter Where the gauges go.
 * @returns Functions that add and remove the callback.
 */
function observeQueue(app: QueueTasks, meter: Meter): { add(): void; remove(): void } {
  const gauges: QueueGauges = {
    depth: meter.createObservableGauge("qtasks.queue.depth", {
      description: "Tasks waiting in the queue, per priority",
      unit: "{task}",
    }),
    scheduled: meter.createObservableGauge("qtasks.queue.scheduled", {
      description: "Delayed tasks and retries not yet due",
      unit: "{task}",
    }),
    inFlight: meter.createObservableGauge("qtasks.queue.in_flight", {
      description: "Tasks claimed by workers",
      unit: "{task}",
    }),
    workers: meter.createObservableGauge("qtasks.workers", {
      description: "Live workers (from their heartbeat records)",
      unit: "{worker}",
    }),
  };
  const callback = async (result: BatchObservableResult) => {
    const stats = await readAppStats(app);
    const base = { "messaging.destination.name": app.name };
    for (const { priority, count } of stats.queue.byPriority) {
      result.observe(gauges.depth, count, { ...base, "qtasks.task.priority": priority });
    }
    result.observe(gauges.scheduled, stats.queue.scheduled, base);
    result.observe(gauges.inFlight, stats.queue.inFlight, base);
    result.observe(gauges.workers, stats.workers.length, base);
  };
  const observables = Object.values(gauges);
  return {
    add: () => meter.addBatchObservableCallback(callback, observables),
    remove: () => meter.removeBatchObservableCallback(callback, observables),
  };
}

/**
 * Instruments an app with OpenTelemetry (see {@linkcode otelInstrumentation}) when an SDK is
 * there to record: it adds the plugin, and an app-wide middleware (add yours after it, so that
 * they run inside the run's span), and, with `observeQueue`, the queue gauges. It looks for the
 * SDK when called: register it first (or pass `tracerProvider` / `meterProvider`). With none, it
 * adds nothing, and the app runs exactly as without it. Call it in every process of the app,
 * producers and workers, before the app starts.
 *
 * @param app The app.
 * @param options Providers, parent or link mode, what to record.
 * @returns What it installed.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { instrumentApp } from "@qtasks/qtasks/otel";
 *
 * const app = new QueueTasks({ name: "docs-otel" });
 * const add = app.task("add", (a: number, b: number) => a + b);
 * const installed = await instrumentApp(app); // spans and metrics go to the SDK you registered
 * console.log(installed.traces, installed.metrics); // false false: no SDK here
 * await app.start();
 * console.log(await (await add.addTask(1, 2)).value()); // 3
 * await app.stop();
 * ```
 */
export async function instrumentApp(
  app: QueueTasks,
  options: OtelInstrumentationOptions = {},
): Promise<AppInstrumentation> {
  const traces = options.traces !== false && hasTracerProvider(options);
  const metering = options.metrics !== false && hasMeterProvider(options);
  if (!traces && !metering) return { traces, metrics: metering, instrumentation: undefined };
  const instrumentation = otelInstrumentation({ ...options, traces, metrics: metering });
  await app.addPlugin(instrumentation.plugin);
  app.addMiddleware(instrumentation.middleware, "before");
  if (options.observeQueue && metering) {
    const meter = meterProviderOf(options).getMeter(INSTRUMENTATION_NAME);
    // Observed while the app runs.
    const { add, remove } = observeQueue(app, meter);
    await app.addPlugin({ name: "opentelemetry-queue", handlers: {}, start: add, stop: remove });
  }
  return { traces, metrics: metering, instrumentation };
}

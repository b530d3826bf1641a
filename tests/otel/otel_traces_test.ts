/**
 * The OpenTelemetry instrumentation (`@qtasks/qtasks/otel`) checked with the SDK's in-memory
 * exporter: one trace from the request that enqueues to every run, across a retry and a chain
 * step, on both backends; link mode; and nothing stored without an SDK.
 *
 * @module
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { instrumentApp } from "../../src/otel/mod.ts";
import { backendApp, backendLabel, BACKENDS, withApp } from "../support/with_app.ts";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer("test");

/** The parent span id of a finished span (SDK 2: `parentSpanContext`). */
function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

function only(spans: ReadableSpan[], predicate: (span: ReadableSpan) => boolean): ReadableSpan[] {
  return spans.filter(predicate);
}

for (const backend of BACKENDS) {
  test(`${backendLabel(backend)}, without an SDK instrumentApp adds nothing and the task carries no headers`, async () => {
    const app = backendApp(backend, "otel-nosdk");
    const add = app.task("add", (a: number, b: number) => a + b);
    const installed = await instrumentApp(app);
    assert.deepEqual(installed, { traces: false, metrics: false, instrumentation: undefined });
    await withApp(app, async () => {
      const record = await (await add.addTask(1, 2)).result();
      assert.equal(record.returning, 3);
      assert.equal(record.headers, undefined);
    });
  });
}

test("with a tracer provider but no propagator, spans are recorded and no headers are stored", async () => {
  exporter.reset();
  const app = backendApp("memory", "otel-noprop");
  const add = app.task("add", (a: number, b: number) => a + b);
  const installed = await instrumentApp(app, { tracerProvider: provider });
  assert.equal(installed.traces, true);
  await withApp(app, async () => {
    assert.equal((await (await add.addTask(1, 2)).result()).headers, undefined);
  });
  const spans = exporter.getFinishedSpans();
  assert.deepEqual(spans.map((s) => s.kind).sort(), [SpanKind.PRODUCER, SpanKind.CONSUMER].sort());
  const [run] = only(spans, (s) => s.kind === SpanKind.CONSUMER);
  assert.equal(parentOf(run), undefined, "nothing to continue: a root span");
});

test("instrumentApp finds a tracer provider registered globally", async () => {
  trace.setGlobalTracerProvider(provider);
  try {
    const installed = await instrumentApp(backendApp("memory", "otel-global"));
    assert.equal(installed.traces, true);
    assert.equal(installed.metrics, false, "no meter provider registered");
  } finally {
    trace.disable();
  }
});

let contextManager: AsyncLocalStorageContextManager;
before(() => {
  contextManager = new AsyncLocalStorageContextManager().enable();
});

after(() => {
  context.disable();
  propagation.disable();
});

/** Registers the SDK's context manager and the W3C propagator for the tests below. */
function registerGlobals(): void {
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

for (const backend of BACKENDS) {
  test(`${backendLabel(backend)}, one trace goes from the request's span to every run: a failed attempt, its retry and the next chain step`, async () => {
    registerGlobals();
    exporter.reset();
    const app = backendApp(backend, "otel-trace");
    let attempts = 0;
    const flaky = app.task(
      { name: "flaky", retry: 1, backoff: { type: "fixed", delayMs: 0 } },
      (n: number) => {
        attempts++;
        if (attempts === 1) throw new RangeError("first attempt fails");
        // A span made inside the task is a child of its run's span (the middleware's context).
        tracer.startSpan("inside").end();
        return n * 2;
      },
    );
    const label = app.task("label", (n: number) => `n=${n}`);
    await instrumentApp(app, { tracerProvider: provider });
    await withApp(app, async () => {
      const request = tracer.startSpan("request");
      const job = await context.with(
        trace.setSpan(context.active(), request),
        () => app.chain(flaky.s(21)).pipe(label).addTask(),
      );
      request.end();
      assert.equal(await job.value(), "n=42");
    });
    const spans = exporter.getFinishedSpans();
    const traceId = request(spans).spanContext().traceId;
    function request(all: ReadableSpan[]): ReadableSpan {
      return only(all, (s) => s.name === "request")[0];
    }
    const creates = only(spans, (s) => s.kind === SpanKind.PRODUCER);
    assert.equal(creates.length, 1, "one create span: the chain's first task");
    const create = creates[0];
    assert.equal(create.name, `create ${app.name}`);
    assert.equal(parentOf(create), request(spans).spanContext().spanId);
    assert.equal(create.attributes["messaging.system"], "qtasks");
    assert.equal(create.attributes["messaging.destination.name"], app.name);
    assert.equal(create.attributes["messaging.operation.type"], "create");
    assert.equal(create.attributes["qtasks.task.name"], "flaky");

    const runs = only(spans, (s) => s.kind === SpanKind.CONSUMER);
    assert.deepEqual(
      runs.map((s) => [s.attributes["qtasks.task.name"], s.attributes["qtasks.task.attempt"]]),
      [["flaky", 1], ["flaky", 2], ["label", 1]],
    );
    for (const run of runs) {
      assert.equal(run.name, `process ${app.name}`);
      assert.equal(run.spanContext().traceId, traceId, "every run is in the request's trace");
      assert.equal(parentOf(run), create.spanContext().spanId, "a child of the create span");
      assert.equal(run.attributes["messaging.operation.type"], "process");
      assert.equal(run.attributes["messaging.destination.name"], app.name);
      assert.equal(run.attributes["qtasks.task.delivery"], 1);
      assert.equal(typeof run.attributes["messaging.client.id"], "string");
    }
    const [failed, retried, step] = runs;
    assert.equal(failed.status.code, SpanStatusCode.ERROR);
    assert.equal(failed.attributes["error.type"], "RangeError");
    assert.equal(failed.attributes["qtasks.task.status"], "retry");
    assert.equal(failed.events[0]?.name, "exception");
    assert.equal(failed.events[0]?.attributes?.["exception.message"], "first attempt fails");
    assert.equal(retried.status.code, SpanStatusCode.UNSET);
    assert.equal(retried.attributes["qtasks.task.status"], "success");
    assert.notEqual(
      failed.attributes["messaging.message.id"],
      retried.attributes["messaging.message.id"],
    );
    assert.equal(step.attributes["qtasks.task.status"], "success");
    const inside = only(spans, (s) => s.name === "inside");
    assert.equal(inside.length, 1);
    assert.equal(parentOf(inside[0]), retried.spanContext().spanId);
  });

  test(`${backendLabel(backend)}, in link mode each run starts its own trace, linked to the creation context`, async () => {
    registerGlobals();
    exporter.reset();
    const app = backendApp(backend, "otel-link");
    const add = app.task("add", (a: number, b: number) => a + b);
    await instrumentApp(app, { tracerProvider: provider, processSpan: "link" });
    await withApp(app, async () => {
      assert.equal(await (await add.addTask(1, 2)).value(), 3);
    });
    const spans = exporter.getFinishedSpans();
    const [create] = only(spans, (s) => s.kind === SpanKind.PRODUCER);
    const [run] = only(spans, (s) => s.kind === SpanKind.CONSUMER);
    assert.notEqual(run.spanContext().traceId, create.spanContext().traceId);
    assert.equal(parentOf(run), undefined, "a root span");
    assert.deepEqual(run.links.map((l) => l.context.spanId), [create.spanContext().spanId]);
  });
}

test("a run's span is not a child of the context the worker was started in", async () => {
  registerGlobals();
  exporter.reset();
  const app = backendApp("memory", "otel-root");
  const add = app.task("add", (a: number, b: number) => a + b);
  await instrumentApp(app, { tracerProvider: provider });
  const startup = tracer.startSpan("startup");
  await context.with(trace.setSpan(ROOT_CONTEXT, startup), () =>
    withApp(app, async () => {
      await context.with(ROOT_CONTEXT, async () => {
        assert.equal(await (await add.addTask(1, 2)).value(), 3);
      });
    }));
  startup.end();
  const spans = exporter.getFinishedSpans();
  const [create] = only(spans, (s) => s.kind === SpanKind.PRODUCER);
  const [run] = only(spans, (s) => s.kind === SpanKind.CONSUMER);
  assert.equal(run.spanContext().traceId, create.spanContext().traceId);
  assert.notEqual(run.spanContext().traceId, startup.spanContext().traceId);
});

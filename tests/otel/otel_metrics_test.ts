/**
 * The instrumentation's metrics through `@opentelemetry/api`, read with the SDK's MeterProvider
 * and a reader collected by hand: counters per task name, the duration and wait histograms, and
 * the queue gauges (depth by priority, live workers), on both backends.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import { instrumentApp } from "../../src/otel/mod.ts";
import { readAppStats } from "../../mod.ts";
import { backendApp, backendLabel, BACKENDS, withApp } from "../support/with_app.ts";

/** A reader collected by hand. */
class TestReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** The data points of the metric `name`, from one collection. */
function points(collected: ResourceMetrics, name: string): DataPoint<unknown>[] {
  for (const scope of collected.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name === name) return metric.dataPoints as DataPoint<unknown>[];
    }
  }
  return [];
}

/** The value of a counter's point for task `taskName` (0 when it has none). */
function count(collected: ResourceMetrics, name: string, taskName: string): number {
  const point = points(collected, name).find((p) => p.attributes["qtasks.task.name"] === taskName);
  return (point?.value as number | undefined) ?? 0;
}

for (const backend of BACKENDS) {
  test(`${backendLabel(backend)}, counters and histograms count each task's runs by outcome`, async () => {
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const app = backendApp(backend, "otel-metrics");
    let calls = 0;
    const flaky = app.task(
      { name: "flaky", retry: 1, backoff: { type: "fixed", delayMs: 0 } },
      () => {
        if (++calls === 1) throw new Error("once");
        return "ok";
      },
    );
    const fail = app.task("fail", () => {
      throw new Error("always");
    });
    const add = app.task("add", (a: number, b: number) => a + b);
    await instrumentApp(app, { meterProvider, traces: false });
    await withApp(app, async () => {
      await (await flaky.addTask()).result();
      await (await fail.addTask()).result();
      for (let i = 0; i < 3; i++) await (await add.addTask(i, 1)).result();
    });
    const { resourceMetrics } = await reader.collect();
    assert.equal(count(resourceMetrics, "qtasks.tasks.enqueued", "add"), 3);
    assert.equal(
      count(resourceMetrics, "qtasks.tasks.enqueued", "flaky"),
      1,
      "a retry is not an enqueue",
    );
    assert.equal(count(resourceMetrics, "qtasks.tasks.started", "flaky"), 2);
    assert.equal(count(resourceMetrics, "qtasks.tasks.retried", "flaky"), 1);
    assert.equal(count(resourceMetrics, "qtasks.tasks.succeeded", "flaky"), 1);
    assert.equal(count(resourceMetrics, "qtasks.tasks.failed", "fail"), 1);
    assert.equal(count(resourceMetrics, "qtasks.tasks.succeeded", "add"), 3);
    assert.equal(count(resourceMetrics, "qtasks.tasks.cancelled", "add"), 0);
    const durations = points(resourceMetrics, "qtasks.task.duration")
      .filter((p) => p.attributes["qtasks.task.name"] === "add");
    assert.deepEqual(durations.map((p) => (p.value as Histogram).count), [3]);
    assert.equal(durations[0].attributes["qtasks.task.status"], "success");
    assert.equal(durations[0].attributes["messaging.destination.name"], app.name, "per app");
    const waits = points(resourceMetrics, "qtasks.task.wait")
      .filter((p) => p.attributes["qtasks.task.name"] === "add");
    assert.equal((waits[0].value as Histogram).count, 3);
    assert.ok((waits[0].value as Histogram).min! >= 0);
    await meterProvider.shutdown();
  });

  test(`${backendLabel(backend)}, with observeQueue the gauges read the queue depth by priority and the live workers`, async () => {
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const app = backendApp(backend, "otel-gauges");
    const add = app.task("add", (a: number, b: number) => a + b);
    await instrumentApp(app, { meterProvider, traces: false, observeQueue: true });
    await withApp(app, async () => {
      await app.ops.pause();
      await add.withOptions({ priority: 1 }).addTask(1, 1);
      await add.withOptions({ priority: 1 }).addTask(1, 2);
      await add.withOptions({ priority: 5 }).addTask(1, 3);
      const stats = await readAppStats(app);
      const { resourceMetrics } = await reader.collect();
      const depth = points(resourceMetrics, "qtasks.queue.depth")
        .map((p) => [p.attributes["qtasks.task.priority"], p.value]);
      assert.deepEqual(
        depth,
        stats.queue.byPriority.map(({ priority, count }) => [priority, count]),
      );
      const workers = points(resourceMetrics, "qtasks.workers");
      assert.deepEqual(workers.map((p) => p.value), [stats.workers.length]);
      assert.ok(stats.workers.length >= 1, "the app's worker is alive");
      assert.equal(stats.queue.queued, 3, "the tasks wait while the app is paused");
      await app.ops.resume();
    });
    await meterProvider.shutdown();
  });
}

/**
 * The Prometheus endpoint (`@qtasks/qtasks/metrics`): its text parsed by a real parser
 * (parse-prometheus-text-format, the prom2json format), the scraped values against the app's
 * stats and counts, label escaping, a backend that does not answer, and methods.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { QueueTasks, readAppStats } from "../../mod.ts";
import { metricsHandler, PROMETHEUS_CONTENT_TYPE } from "../../src/metrics/mod.ts";
import { backendApp, backendLabel, BACKENDS, withApp } from "../support/with_app.ts";

interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  metrics: Array<{ value: string; labels?: Record<string, string> }>;
}

async function scrape(handler: (request: Request) => Promise<Response>): Promise<ParsedFamily[]> {
  const response = await handler(new Request("http://localhost/metrics"));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), PROMETHEUS_CONTENT_TYPE);
  return (parsePrometheusTextFormat as (text: string) => ParsedFamily[])(await response.text());
}

/** The samples of family `name` as [labels without app, value]. */
function samples(families: ParsedFamily[], name: string): Array<[Record<string, string>, number]> {
  const found = families.find((f) => f.name === name);
  return (found?.metrics ?? []).map(({ labels = {}, value }) => {
    const { app: _app, ...rest } = labels;
    return [rest, Number(value)];
  });
}

for (const backend of BACKENDS) {
  test(`${backendLabel(backend)}, a scrape parsed by a Prometheus parser matches the app's stats and counts`, async () => {
    const app = backendApp(backend, "prom");
    const add = app.task("add", (a: number, b: number) => a + b);
    const fail = app.task("fail", () => {
      throw new Error("no");
    });
    await withApp(app, async () => {
      await (await add.addTask(1, 2)).result();
      await (await add.addTask(3, 4)).result();
      await (await fail.addTask()).result();
      await app.ops.pause();
      await app.ops.pause("fail");
      await add.withOptions({ priority: 0 }).addTask(1, 1);
      await add.withOptions({ priority: 3 }).addTask(1, 2);
      await add.withOptions({ priority: 3 }).addTask(1, 3);
      const families = await scrape(metricsHandler(app));
      const [stats, counts] = await Promise.all([readAppStats(app), app.ops.counts()]);

      for (const family of families) {
        assert.ok(family.help.length > 0, `${family.name} has HELP`);
        assert.equal(family.type, family.name.endsWith("_total") ? "COUNTER" : "GAUGE");
        for (const metric of family.metrics) assert.equal(metric.labels?.app, app.name);
      }
      assert.deepEqual(samples(families, "qtasks_up"), [[{}, 1]]);
      assert.deepEqual(
        samples(families, "qtasks_queue_depth"),
        stats.queue.byPriority.map((
          { priority, count },
        ) => [{ priority: String(priority) }, count]),
      );
      assert.deepEqual(
        stats.queue.byPriority,
        [{ priority: 0, count: 1 }, { priority: 3, count: 2 }],
        "the paused tasks wait",
      );
      const byRecords = samples(families, "qtasks_tasks");
      const expected: Array<[Record<string, string>, number]> = [];
      for (const [taskName, byStatus] of Object.entries(counts.byTaskName)) {
        for (const [status, value] of Object.entries(byStatus)) {
          expected.push([{ task_name: taskName, status }, value]);
        }
      }
      assert.deepEqual(byRecords, expected);
      const find = (taskName: string, status: string) =>
        byRecords.find(([l]) => l.task_name === taskName && l.status === status)?.[1];
      assert.equal(find("add", "success"), 2);
      assert.equal(find("fail", "error"), 1);
      // The workers' counters reach the backend with their heartbeat: read after the scrape,
      // the stats may be ahead of it, never behind.
      const [[, scrapedProcessed]] = samples(families, "qtasks_processed_total");
      const [[, scrapedFailed]] = samples(families, "qtasks_failed_total");
      assert.ok(scrapedProcessed <= stats.processed && scrapedFailed <= stats.failed);
      assert.ok(scrapedProcessed >= 0 && scrapedFailed >= 0);
      assert.deepEqual(samples(families, "qtasks_workers"), [[{}, stats.workers.length]]);
      assert.equal(stats.workers.length, 1);
      const [[workerLabels, concurrency]] = samples(families, "qtasks_worker_concurrency");
      assert.equal(workerLabels.worker, stats.workers[0].workerId);
      assert.equal(concurrency, stats.workers[0].concurrency);
      assert.deepEqual(samples(families, "qtasks_paused"), [[{}, 1]]);
      assert.deepEqual(samples(families, "qtasks_task_paused"), [[{ task_name: "fail" }, 1]]);
      await app.ops.resume();
      await app.ops.resume("fail");
    });
  });
}

test("label values with quotes, backslashes and newlines survive the parser", async () => {
  const app = backendApp("memory", "prom-escape");
  const name = 'say "hi"\\now\nplease';
  const task = app.task(name, () => 1);
  await withApp(app, async () => {
    await (await task.addTask()).result();
    const families = await scrape(metricsHandler([app]));
    const names = samples(families, "qtasks_tasks")
      .filter(([labels]) => labels.status === "success").map(([labels]) => labels.task_name);
    assert.deepEqual(names, [name]);
  });
});

test("a backend that does not answer scrapes as qtasks_up 0, without its password", async () => {
  const app = new QueueTasks({
    name: "prom-down",
    brokerUrl: "redis://:s3cret-pass@127.0.0.1:1/0",
    env: false,
    config: { logsDefaultLevel: "silent", backendTimeoutMs: 300 },
  });
  try {
    const response = await metricsHandler(app)(new Request("http://localhost/"));
    const text = await response.text();
    assert.ok(!text.includes("s3cret"), text);
    const families = (parsePrometheusTextFormat as (t: string) => ParsedFamily[])(text);
    assert.deepEqual(families.map((f) => f.name), ["qtasks_up"]);
    assert.deepEqual(samples(families, "qtasks_up"), [[{}, 0]]);
  } finally {
    await app.stop();
  }
});

test("the handler answers HEAD without a body and other methods with 405", async () => {
  const handler = metricsHandler(backendApp("memory", "prom-methods"));
  const head = await handler(new Request("http://localhost/metrics", { method: "HEAD" }));
  assert.equal(head.status, 200);
  assert.equal(await head.text(), "");
  const post = await handler(new Request("http://localhost/metrics", { method: "POST" }));
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
});

/**
 * `qtasks metrics`: serves the Prometheus text of an app named by Redis URL and name (a real
 * parser reads the scrape), refuses a bad port and an app that is not there, and never prints a
 * Redis password.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { producerApp, REDIS_URL, repoPath, uniqueAppName } from "../support/e2e_env.ts";
import { spawnRuntime } from "../support/spawn_runtime.ts";

const CLI = repoPath("cli.ts");

interface ParsedFamily {
  name: string;
  metrics: Array<{ value: string; labels?: Record<string, string> }>;
}

async function qtasks(args: string[], env: Record<string, string> = {}) {
  const child = spawnRuntime(CLI, { args, env: { NO_COLOR: "1", ...env } });
  try {
    const code = await child.exitCode(30_000);
    return { code, stdout: child.stdout, stderr: child.stderr };
  } finally {
    await child.kill();
  }
}

test("metrics serves the app's Prometheus text until SIGINT, read from Redis by name", async () => {
  const name = uniqueAppName("cli-metrics");
  const app = producerApp(name); // never started: no worker takes the tasks
  await app.addTask("report", [1]);
  await app.addTask("report", [2]);
  const server = spawnRuntime(CLI, {
    args: ["metrics", "--port", "0", "--redis", REDIS_URL, "--name", name],
    env: { NO_COLOR: "1" },
  });
  try {
    const [, url] = await server.waitForLine(
      /^Serving .* at (http:\/\/127\.0\.0\.1:\d+\/metrics)/,
      30_000,
    );
    const response = await fetch(url);
    assert.equal(response.status, 200);
    const families = (parsePrometheusTextFormat as (text: string) => ParsedFamily[])(
      await response.text(),
    );
    const value = (family: string, labels: Record<string, string>) =>
      families.find((f) => f.name === family)?.metrics.find((m) =>
        Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)
      )?.value;
    assert.equal(value("qtasks_up", { app: name }), "1");
    assert.equal(value("qtasks_queue_depth", { app: name, priority: "0" }), "2");
    assert.equal(value("qtasks_tasks", { app: name, task_name: "report", status: "queued" }), "2");
    server.signal("SIGINT");
    assert.equal(await server.exitCode(10_000), 0);
  } finally {
    await server.kill();
    await app.flushAll();
    await app.stop();
  }
});

test("metrics refuses a port out of range with a usage error", async () => {
  const run = await qtasks(["metrics", "--port", "70000", "--redis", REDIS_URL, "--name", "x"]);
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /^qtasks: --port must be an integer from 0 to 65535, got 70000/);
});

test("metrics refuses an app with no records, queue or worker, naming it", async () => {
  const name = uniqueAppName("cli-metrics-none");
  const run = await qtasks(["metrics", "--port", "0", "--redis", REDIS_URL, "--name", name]);
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stderr, new RegExp(`^qtasks: No app "${name}" on redis://.*--allow-empty`));
});

test("metrics never prints the Redis password of its URL", async () => {
  const run = await qtasks([
    "metrics",
    "--port",
    "0",
    "--redis",
    "redis://user:hunter2-secret@127.0.0.1:1/0",
    "--name",
    "x",
  ], { QTASKS_BACKEND_TIMEOUT_MS: "500" });
  assert.equal(run.code, 1);
  assert.ok(!(run.stdout + run.stderr).includes("hunter2"), run.stderr);
  assert.match(run.stderr, /^qtasks: /);
});

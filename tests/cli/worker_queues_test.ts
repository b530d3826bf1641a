/**
 * `qtasks worker --queues`: the flag sets the worker's queues (names in order, optional
 * weights); a bad list is a usage error.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { QueueTasks } from "../../mod.ts";
import type { AsyncWorker } from "../../src/ports/mod.ts";
import { workerRunnable } from "../../src/cli/_worker_runner.ts";
import { CliUsageError } from "../../src/cli/_cli_errors.ts";

function app(): QueueTasks {
  return new QueueTasks({ name: "cli-queues", env: false, config: { logsDefaultLevel: "silent" } });
}

test("qtasks worker --queues sets the worker's queues in order, with their weights", () => {
  const target = app();
  const runnable = workerRunnable(target, { queues: "io:3, cpu,default", moduleUrl: "" });
  assert.deepEqual((runnable.worker as AsyncWorker).queues, ["io", "cpu", "default"]);
});

test("qtasks worker --queues refuses a bad name, a bad weight and an empty list", () => {
  for (const text of ["a b", "io:0", "io:x", "io:1:2", ",", ""]) {
    assert.throws(
      () => workerRunnable(app(), { queues: text, moduleUrl: "" }),
      (error: unknown) => error instanceof CliUsageError && /queues/.test(error.message),
      `--queues ${JSON.stringify(text)}`,
    );
  }
});

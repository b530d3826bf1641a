import { test } from "node:test";
import assert from "node:assert/strict";
import { QueueTasks, ResultTimeoutError } from "../../mod.ts";
import { producerApp, uniqueAppName } from "../support/e2e_env.ts";

function isResultTimeout(uuid: string, timeoutMs: number) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof ResultTimeoutError, `not a ResultTimeoutError: ${error}`);
    assert.equal(error.code, "RESULT_TIMEOUT");
    assert.equal(error.lastStatus, "new");
    assert.equal(error.uuid, uuid);
    assert.match(error.message, new RegExp(`within ${timeoutMs} ms \\(status: new\\)`));
    return true;
  };
}

test(
  "awaiting a task that no worker runs rejects with ResultTimeoutError after timeoutMs (Redis)",
  { timeout: 30_000 },
  async () => {
    const name = uniqueAppName("result-timeout");
    const app = producerApp(name);
    try {
      const job = await app.addTask("nobody_runs", [1]);
      const started = performance.now();
      await assert.rejects(job.result({ timeoutMs: 50 }), isResultTimeout(job.uuid, 50));
      const waited = performance.now() - started;
      assert.ok(waited >= 45 && waited < 2_000, `waited ${waited} ms`);
      await assert.rejects(job.value({ timeoutMs: 50 }), isResultTimeout(job.uuid, 50));
      // Giving up on the wait does not touch the task: it is still queued.
      assert.equal((await job.get())?.status, "new");
    } finally {
      await app.flushAll();
      await app.stop();
    }
  },
);

test(
  "awaiting a task that no worker runs rejects with ResultTimeoutError after timeoutMs (memory)",
  { timeout: 30_000 },
  async () => {
    // No worker started: the in-memory app only enqueues.
    const app = new QueueTasks({
      name: uniqueAppName("result-timeout-memory"),
      env: false,
      config: { logsDefaultLevel: "warn" },
    });
    try {
      const job = await app.addTask("nobody_runs");
      await assert.rejects(job.result({ timeoutMs: 50 }), isResultTimeout(job.uuid, 50));
      assert.equal((await job.get())?.status, "new");
    } finally {
      await app.flushAll();
      await app.stop();
    }
  },
);

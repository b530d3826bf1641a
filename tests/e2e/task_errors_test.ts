import { test } from "node:test";
import assert from "node:assert/strict";
import { type QueueTasks, TaskFailedError } from "../../mod.ts";
import {
  producerApp,
  startWorker,
  stopWorker,
  uniqueAppName,
  type WorkerFixtureOptions,
} from "../support/e2e_env.ts";
import type { SpawnedProcess } from "../support/spawn_runtime.ts";

/**
 * Runs `body` with a producer app on a new app name and a worker fixture serving it, then stops
 * the worker with SIGTERM and asserts it exits with code 0. Always kills the worker, flushes the
 * app's data and stops the app.
 */
async function withWorker(
  what: string,
  options: WorkerFixtureOptions,
  body: (app: QueueTasks) => Promise<void>,
): Promise<void> {
  const name = uniqueAppName(what);
  const app = producerApp(name);
  let worker: SpawnedProcess | undefined;
  try {
    worker = await startWorker(name, options);
    await body(app);
    assert.equal(await stopWorker(worker), 0, worker.describe());
  } finally {
    await worker?.kill();
    await app.flushAll();
    await app.stop();
  }
}

test(
  "a task that exceeds its maxTime ends as error with TaskTimeoutError and the worker serves the next task",
  { timeout: 30_000 },
  async () => {
    // One slot: the next task can only run once the timed-out one has given its slot back.
    await withWorker("max-time", { concurrency: 1, maxTimeMs: 150 }, async (app) => {
      const tooSlow = await app.addTask("too_slow");
      const next = await app.addTask<number>("add", [1, 2]);

      const record = await tooSlow.result({ timeoutMs: 10_000 });
      assert.equal(record.status, "error");
      assert.equal(record.error?.type, "TaskTimeoutError");
      assert.equal(record.error?.code, "TASK_TIMEOUT");
      assert.match(record.error?.message ?? "", /exceeded its maxTime of 150 ms/);
      assert.equal(record.returning, undefined);
      assert.ok(record.startedAt && record.finishedAt, "timings are stored");
      const ranMs = record.finishedAt.getTime() - record.startedAt.getTime();
      // The task itself sleeps 10 s: it was cut off at maxTime, not awaited.
      assert.ok(ranMs >= 100 && ranMs < 5_000, `ran for ${ranMs} ms`);
      await assert.rejects(tooSlow.value({ timeoutMs: 1_000 }), TaskFailedError);

      assert.equal(await next.value({ timeoutMs: 10_000 }), 3);
      const after = await app.addTask<number>("add", [20, 22]);
      assert.equal(await after.value({ timeoutMs: 10_000 }), 42);
    });
  },
);

test(
  "a task that throws a TypeError ends as error with its type, message and stack stored",
  { timeout: 30_000 },
  async () => {
    await withWorker("task-error", {}, async (app) => {
      const job = await app.addTask("fail_type", ["oops"]);

      const record = await job.result({ timeoutMs: 10_000 });
      assert.equal(record.status, "error");
      assert.equal(record.error?.type, "TypeError");
      assert.equal(record.error?.message, 'expected a number, got "oops"');
      // The stack (QTasks' traceback field) comes from the worker process.
      assert.match(record.error?.stack ?? "", /TypeError: expected a number, got "oops"/);
      assert.match(record.error?.stack ?? "", /worker\.ts/);
      assert.ok(record.finishedAt, "finishedAt is stored");
      assert.equal(record.returning, undefined);

      await assert.rejects(job.value({ timeoutMs: 1_000 }), (error: unknown) => {
        assert.ok(error instanceof TaskFailedError, `not a TaskFailedError: ${error}`);
        assert.equal(error.code, "TASK_FAILED");
        assert.equal(error.record.uuid, job.uuid);
        assert.equal(error.record.error?.type, "TypeError");
        assert.match(error.message, /TypeError: expected a number, got "oops"/);
        return true;
      });

      // The worker is still serving.
      const next = await app.addTask<number>("add", [2, 2]);
      assert.equal(await next.value({ timeoutMs: 10_000 }), 4);
    });
  },
);

test(
  "a task under a name the worker has not registered ends as error with UnknownTaskError and the worker keeps serving",
  { timeout: 30_000 },
  async () => {
    await withWorker("unknown-task", { concurrency: 1 }, async (app) => {
      // The producer does not check names: it cannot know what the workers registered.
      const unknown = await app.addTask("no_such_task", [1]);
      const next = await app.addTask<number>("add", [5, 6]);

      const record = await unknown.result({ timeoutMs: 10_000 });
      assert.equal(record.status, "error");
      assert.equal(record.taskName, "no_such_task");
      assert.equal(record.error?.type, "UnknownTaskError");
      assert.equal(record.error?.code, "UNKNOWN_TASK");
      assert.match(record.error?.message ?? "", /no_such_task/);
      await assert.rejects(unknown.value({ timeoutMs: 1_000 }), TaskFailedError);

      assert.equal(await next.value({ timeoutMs: 10_000 }), 11);
    });
  },
);

import { test } from "node:test";
import assert from "node:assert/strict";
import { QueueTasks, TaskCancelError, type TaskContext, TaskFailedError } from "../../mod.ts";
import { deferred, testRedisUrl, uniqueName } from "../support/deferred.ts";

for (const backend of ["memory", "redis"] as const) {
  const label = backend === "memory" ? "In memory" : "On Redis";
  const makeApp = () =>
    new QueueTasks({
      name: uniqueName("cancel"),
      ...(backend === "redis" ? { brokerUrl: testRedisUrl() } : {}),
      env: false,
      config: { logsDefaultLevel: "silent", maxTasksProcess: 1 },
    });

  test(`${label}, app.cancel aborts a running task's signal and the task ends as cancel`, async () => {
    const app = makeApp();
    const started = deferred();
    let signal: AbortSignal | undefined;
    const task = app.task({ name: "long", echo: true }, async (ctx: TaskContext) => {
      signal = ctx.signal;
      started.resolve();
      await new Promise((_, reject) =>
        ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))
      );
    });
    await app.start();
    try {
      const job = await task.addTask();
      await started.promise;
      assert.equal(await job.cancel("user pressed stop"), "cancelling");
      const record = await job.result({ timeoutMs: 5_000 });
      assert.equal(record.status, "cancel");
      assert.equal(record.cancelReason, "user pressed stop");
      assert.ok(signal?.reason instanceof TaskCancelError);
      await assert.rejects(job.value({ timeoutMs: 1_000 }), TaskFailedError);
    } finally {
      await app.flushAll();
      await app.stop();
    }
  });

  test(`${label}, a task that ignores its signal still ends as cancel at once`, async () => {
    const app = makeApp();
    const started = deferred();
    const task = app.task("deaf", async () => {
      started.resolve();
      await new Promise(() => {});
    });
    await app.start();
    try {
      const job = await task.addTask();
      await started.promise;
      await app.cancel(job.uuid, "too slow");
      assert.equal((await job.result({ timeoutMs: 5_000 })).status, "cancel");
    } finally {
      await app.flushAll();
      await app.stop({ graceMs: 10 });
    }
  });

  test(`${label}, a cancelled queued task never runs and the worker runs the next`, async () => {
    const app = makeApp();
    const ran: string[] = [];
    const task = app.task("record", (name: string) => {
      ran.push(name);
      return name;
    });
    const cancelled = await task.addTask("cancelled");
    const kept = await task.addTask("kept");
    assert.equal(await cancelled.cancel(), "cancelled");
    await app.start();
    try {
      assert.equal(await kept.value({ timeoutMs: 5_000 }), "kept");
      assert.deepEqual(ran, ["kept"]);
      const record = await cancelled.result({ timeoutMs: 1_000 });
      assert.equal(record.status, "cancel");
      assert.equal(record.cancelReason, "");
      assert.equal(record.startedAt, undefined);
      assert.equal(await app.cancel(kept.uuid), "finished");
    } finally {
      await app.flushAll();
      await app.stop();
    }
  });
}

test("a task that throws TaskCancelError itself ends as cancel with its reason", async () => {
  const app = new QueueTasks({
    name: uniqueName("self-cancel"),
    env: false,
    config: { logsDefaultLevel: "silent" },
  });
  const task = app.task("quit", () => {
    throw new TaskCancelError("nothing to do");
  });
  await app.start();
  try {
    const record = await (await task.addTask()).result({ timeoutMs: 5_000 });
    assert.equal(record.status, "cancel");
    assert.equal(record.cancelReason, "nothing to do");
  } finally {
    await app.stop();
  }
});

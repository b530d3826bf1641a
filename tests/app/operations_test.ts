/**
 * The operator's API through the app (`app.ops`) with a worker running, on both backends: task
 * logs, a failed task kept and retried once (its old uuid's result follows the retry), pause and
 * resume of a task name while the worker runs, and the event stream heard by another app
 * instance. Needs Redis at redis://127.0.0.1:6379, or at QTASKS_TEST_REDIS_URL.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type TaskContext, TaskStateError } from "../../mod.ts";
import type { TaskEvent } from "../../src/ports/mod.ts";
import { backendApp, backendLabel, BACKENDS, withApp } from "../support/with_app.ts";

for (const backend of BACKENDS) {
  const label = backendLabel(backend);

  test(`${label}, ctx.log lines are kept on the record and read with app.ops.logs`, async () => {
    const app = backendApp(backend, "ops-log");
    app.task({ name: "chatty", echo: true }, async (ctx: TaskContext) => {
      await ctx.log("starting");
      await ctx.log("almost", "debug");
      return 1;
    });
    await withApp(app, async () => {
      const job = await app.addTask("chatty", []);
      await job.value();
      const logs = await app.ops.logs(job.uuid);
      assert.deepEqual(logs?.map((l) => [l.level, l.message]), [["info", "starting"], [
        "debug",
        "almost",
      ]]);
      assert.ok(logs!.every((l) => l.at.getTime() > 0));
    });
  });

  test(`${label}, a failed task is kept and an operator's retry runs it once; result() on the old uuid follows`, async () => {
    const app = backendApp(backend, "ops-retry");
    let runs = 0;
    let fail = true;
    app.task("flaky", () => {
      runs++;
      if (fail) throw new Error("down");
      return "up";
    });
    await withApp(app, async () => {
      const job = await app.addTask("flaky", []);
      assert.equal((await job.result()).status, "error");
      fail = false;
      assert.equal(await app.ops.retry(crypto.randomUUID()), undefined, "unknown uuid");
      const child = await app.ops.retry(job.uuid);
      assert.ok(child);
      const record = await app.result(job.uuid).result();
      assert.equal(record.uuid, child);
      assert.equal(record.status, "success");
      assert.equal(record.returning, "up");
      assert.equal(runs, 2);
      await assert.rejects(app.ops.retry(child), TaskStateError);
    });
  });

  test(`${label}, a paused task name waits while the worker runs others, and runs once resumed`, async () => {
    const app = backendApp(backend, "ops-pause");
    app.task("held", () => "held");
    app.task("free", () => "free");
    await withApp(app, async () => {
      await app.ops.pause("held");
      const held = await app.addTask("held", []);
      const free = await app.addTask("free", []);
      assert.equal(await free.value(), "free");
      assert.equal((await app.get(held.uuid))?.status, "new");
      assert.deepEqual((await app.ops.counts()).paused.taskNames, ["held"]);
      await app.ops.resume("held");
      assert.equal(await held.value(), "held");
    });
  });

  test(`${label}, another app instance hears the event stream of the tasks it filters for`, async () => {
    const app = backendApp(backend, "ops-events");
    app.task("watched", (n: number) => n);
    app.task("other", (n: number) => n);
    // On Redis, a second instance of the app (its own connection) listens; in memory, the same.
    const listener = backend === "redis" ? backendApp(backend, "", {}, app.name) : app;
    await withApp(app, async () => {
      const events: TaskEvent[] = [];
      let done!: () => void;
      const finished = new Promise<void>((resolve) => done = resolve);
      const stop = await listener.ops.subscribe((event) => {
        events.push(event);
        if (event.status === "success") done();
      }, { taskNames: ["watched"] });
      try {
        await app.addTask("other", [1]);
        const job = await app.addTask("watched", [2]);
        await finished;
        assert.deepEqual(events.map((e) => [e.uuid, e.status]), [
          [job.uuid, "queued"],
          [job.uuid, "running"],
          [job.uuid, "success"],
        ]);
      } finally {
        stop();
        if (listener !== app) await listener.stop();
      }
    });
  });
}

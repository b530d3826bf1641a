/**
 * Delayed tasks through the app (`delayMs`, `runAt`), on the memory backend and on Redis: stored
 * at once, claimed only once due, woken for without polling, cancellable. The broker side is in
 * the contract suite (tests/contract/), with an injected clock on memory.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { backendApp, backendLabel, BACKENDS, withApp } from "../support/with_app.ts";

for (const backend of BACKENDS) {
  const label = backendLabel(backend);
  const makeApp = (idleWakeMs = 5_000) => backendApp(backend, "delayed", { idleWakeMs });

  test(`${label}, a task added with delayMs is stored at once and runs no earlier than its delay`, async () => {
    const app = makeApp();
    const echo = app.task("echo", (text: string) => text);
    await withApp(app, async () => {
      const job = await echo.withOptions({ delayMs: 40 }).addTask("later");
      const stored = await job.get();
      assert.equal(stored?.status, "new");
      assert.ok(stored?.runAt instanceof Date, "the record has runAt");
      const delay = stored.runAt.getTime() - stored.createdAt.getTime();
      assert.ok(delay >= 39 && delay <= 1_000, `runAt is ${delay} ms after createdAt`);
      const record = await job.result({ timeoutMs: 5_000 });
      assert.equal(record.status, "success");
      assert.equal(record.returning, "later");
      assert.ok(record.startedAt && record.startedAt >= stored.runAt, "not started before runAt");
    });
  });

  test(`${label}, runAt in the future delays the task and a past runAt runs at once`, async () => {
    const app = makeApp();
    app.task("stamp", () => Date.now());
    await withApp(app, async () => {
      const at = Date.now() + 50;
      const later = await app.addTask("stamp", [], { runAt: new Date(at) });
      const past = await app.addTask("stamp", [], { runAt: Date.now() - 60_000 });
      const pastRecord = await past.result({ timeoutMs: 5_000 });
      assert.equal(pastRecord.status, "success");
      assert.equal(pastRecord.runAt, undefined, "a past runAt is due at once");
      const ranAt = await later.value({ timeoutMs: 5_000 }) as number;
      assert.ok(ranAt >= at - 5, `ran at ${ranAt}, ${at - ranAt} ms before runAt`);
      const record = await later.get();
      assert.ok(record?.runAt, "the record keeps runAt");
      assert.ok(Math.abs(record.runAt.getTime() - at) < 1_000, "runAt is the time asked for");
    });
  });

  test(`${label}, an idle worker wakes for a delayed task due before its idle wake-up`, async () => {
    // The worker blocks up to a minute when idle: only the wake-up can make it run the task soon.
    const app = makeApp(60_000);
    const ping = app.task("ping", () => "pong");
    await withApp(app, async () => {
      assert.equal(await (await ping.addTask()).value({ timeoutMs: 5_000 }), "pong");
      // The worker is idle now, blocked until a task arrives or the minute passes.
      const started = Date.now();
      const job = await ping.withOptions({ delayMs: 30 }).addTask();
      assert.equal(await job.value({ timeoutMs: 10_000 }), "pong");
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 29 && elapsed < 10_000, `ran after ${elapsed} ms`);
    });
  });

  test(`${label}, a delayed task cancelled before it is due never runs`, async () => {
    const app = makeApp();
    const ran: string[] = [];
    const mark = app.task("mark", (name: string) => void ran.push(name));
    await withApp(app, async () => {
      const job = await mark.withOptions({ delayMs: 30 }).addTask("cancelled");
      assert.equal(await job.cancel("changed my mind"), "cancelled");
      // A later task runs after the cancelled one was due.
      await (await mark.withOptions({ delayMs: 60 }).addTask("kept")).result({ timeoutMs: 5_000 });
      const record = await job.result({ timeoutMs: 1_000 });
      assert.equal(record.status, "cancel");
      assert.equal(record.cancelReason, "changed my mind");
      assert.deepEqual(ran, ["kept"]);
    });
  });

  test(`${label}, addTask refuses a negative or NaN delay, an invalid runAt, and both at once`, async () => {
    const app = makeApp();
    const echo = app.task("echo", (text: string) => text);
    try {
      await assert.rejects(echo.withOptions({ delayMs: -1 }).addTask("x"), RangeError);
      await assert.rejects(echo.withOptions({ delayMs: Number.NaN }).addTask("x"), RangeError);
      await assert.rejects(echo.withOptions({ delayMs: Infinity }).addTask("x"), RangeError);
      await assert.rejects(
        app.addTask("echo", ["x"], { runAt: new Date("not a date") }),
        RangeError,
      );
      await assert.rejects(
        app.addTask("echo", ["x"], { delayMs: 10, runAt: Date.now() }),
        /give either delayMs or runAt/,
      );
      await assert.rejects(app.addTasks("echo", [["x"]], { delayMs: -5 }), RangeError);
      assert.deepEqual(await app.broker.storage.getAll(), [], "nothing was stored");
    } finally {
      await app.flushAll();
      await app.stop();
    }
  });

  test(`${label}, addTasks delays every task of the batch`, async () => {
    const app = makeApp();
    const echo = app.task("echo", (text: string) => text);
    await withApp(app, async () => {
      const jobs = await echo.withOptions({ delayMs: 30 }).addTasks([["a"], ["b"]]);
      const records = await Promise.all(jobs.map((job) => job.result({ timeoutMs: 5_000 })));
      for (const record of records) {
        assert.equal(record.status, "success");
        assert.ok(record.runAt && record.startedAt && record.startedAt >= record.runAt);
      }
    });
  });
}

/**
 * Deduplication through the app (the task and call option `deduplication`), on the memory
 * backend and on Redis: what the handle says (`deduplicated`, the joined task's uuid) and that
 * `value()` just works; bad input refused with nothing stored; `addTasks`, chains and groups. The
 * broker side (keys, windows, debounce moves, races) is in the deduplication contract
 * (tests/contract/deduplication_contract.ts).
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AsyncResult } from "../../mod.ts";
import { backendApp, backendLabel, BACKENDS, withApp } from "../support/with_app.ts";

for (const backend of BACKENDS) {
  const label = backendLabel(backend);

  test(`${label}, a throttled call joins the first call's task and its value is that task's result`, async () => {
    const app = backendApp(backend, "dedup");
    const runs: string[] = [];
    const sync = app.task(
      { name: "sync", deduplication: { id: (user: string) => user, ttlMs: 60_000 } },
      (user: string, note: string) => {
        runs.push(note);
        return `${user}:${note}`;
      },
    );
    const first = await sync.addTask("ada", "first");
    const second = await sync.addTask("ada", "second");
    const other = await sync.addTask("bob", "third");
    assert.equal(first.deduplicated, false);
    assert.equal(second.deduplicated, true);
    assert.equal(second.uuid, first.uuid);
    assert.equal(other.deduplicated, false);
    assert.notEqual(other.uuid, first.uuid);
    await withApp(app, async () => {
      assert.equal(await second.value({ timeoutMs: 10_000 }), "ada:first");
      assert.equal(await other.value({ timeoutMs: 10_000 }), "bob:third");
      // Within the window, a call joins the finished task and gets its result.
      const late = await sync.addTask("ada", "fourth");
      assert.equal(late.deduplicated, true);
      assert.equal(late.uuid, first.uuid);
      assert.equal(await late.value({ timeoutMs: 10_000 }), "ada:first");
    });
    assert.deepEqual(runs.sort(), ["first", "third"]);
  });

  test(`${label}, a debounced call gives its arguments to the waiting task, and every handle gets the last call's result`, async () => {
    const app = backendApp(backend, "dedup");
    const runs: number[] = [];
    const save = app.task(
      { name: "save", deduplication: { id: "doc-1", ttlMs: 60_000, mode: "debounce" } },
      (version: number) => {
        runs.push(version);
        return version;
      },
    );
    // No worker yet: the task waits, so each call replaces its arguments.
    const handles: AsyncResult<number>[] = [];
    for (let version = 1; version <= 3; version++) handles.push(await save.addTask(version));
    assert.deepEqual(handles.map((handle) => handle.deduplicated), [false, true, true]);
    assert.equal(new Set(handles.map((handle) => handle.uuid)).size, 1);
    assert.equal((await handles[0].get())?.dedupId, "doc-1");
    await withApp(app, async () => {
      for (const handle of handles) assert.equal(await handle.value({ timeoutMs: 10_000 }), 3);
      // Once it ran, a call stores a new task.
      const later = await save.addTask(4);
      assert.equal(later.deduplicated, false);
      assert.notEqual(later.uuid, handles[0].uuid);
      assert.equal(await later.value({ timeoutMs: 10_000 }), 4);
    });
    assert.deepEqual(runs, [3, 4]);
  });

  test(`${label}, a call's deduplication option replaces the task's, and false turns it off`, async () => {
    const app = backendApp(backend, "dedup");
    const ping = app.task(
      { name: "ping", deduplication: { id: "all", ttlMs: 60_000 } },
      (n: number) => n,
    );
    const first = await ping.addTask(1);
    assert.equal((await ping.addTask(2)).uuid, first.uuid);
    const off = await ping.withOptions({ deduplication: false }).addTask(3);
    assert.equal(off.deduplicated, false);
    assert.notEqual(off.uuid, first.uuid);
    const own = await app.addTask("ping", [4], {
      deduplication: { id: (n: number) => `n${n}`, ttlMs: 60_000 },
    });
    assert.equal(own.deduplicated, false);
    assert.equal(
      (await app.addTask("ping", [4], {
        deduplication: { id: (n: number) => `n${n}`, ttlMs: 60_000 },
      })).uuid,
      own.uuid,
    );
    await withApp(app, async () => {
      assert.equal(await own.value({ timeoutMs: 10_000 }), 4);
    });
  });
}

test("A deduplication option with a bad field is refused at registration, naming the field", () => {
  const app = backendApp("memory", "dedup");
  const cases: Array<[unknown, RegExp]> = [
    ["key", /deduplication must be an object/],
    [{ id: "", ttlMs: 1 }, /deduplication\.id must be a non-empty string/],
    [{ id: 3, ttlMs: 1 }, /deduplication\.id must be a non-empty string or a function/],
    [{ id: "x", ttlMs: 0 }, /deduplication\.ttlMs must be a finite number of milliseconds > 0/],
    [{ id: "x", ttlMs: -5 }, /deduplication\.ttlMs/],
    [{ id: "x", ttlMs: Number.NaN }, /deduplication\.ttlMs/],
    [{ id: "x", ttlMs: Number.POSITIVE_INFINITY }, /deduplication\.ttlMs/],
    [{ id: "x", ttlMs: "10" }, /deduplication\.ttlMs/],
    [{ id: "x", ttlMs: 10, mode: "first" }, /deduplication\.mode must be "throttle" or "debounce"/],
  ];
  let i = 0;
  for (const [deduplication, pattern] of cases) {
    assert.throws(
      () => app.task({ name: `t${i++}`, deduplication: deduplication as never }, () => 1),
      (error: unknown) => error instanceof TypeError && pattern.test(error.message),
      JSON.stringify(deduplication),
    );
  }
});

test("A deduplication id that is empty, throws or is not a string is refused at enqueue, naming the field, with nothing stored", async () => {
  const app = backendApp("memory", "dedup");
  app.task({
    name: "t",
    deduplication: {
      id: (value: unknown) => {
        if (value === "boom") throw new Error("no id");
        return value as string;
      },
      ttlMs: 60_000,
    },
  }, () => 1);
  const cases: Array<[unknown, RegExp]> = [
    ["boom", /deduplication\.id threw: no id/],
    [42, /deduplication\.id must return a non-empty string, got number/],
    [null, /deduplication\.id must return a non-empty string, got null/],
    ["", /deduplication\.id must be a non-empty string .*got a string of 0 characters/],
    ["x".repeat(1001), /got a string of 1001 characters/],
  ];
  for (const [arg, pattern] of cases) {
    await assert.rejects(
      app.addTask("t", [arg]),
      (error: unknown) => error instanceof TypeError && pattern.test(error.message),
      String(arg).slice(0, 10),
    );
  }
  // A call's own option is checked the same way.
  for (
    const [deduplication, pattern] of [
      [{ id: "x", ttlMs: 0 }, /deduplication\.ttlMs/],
      [{ id: "", ttlMs: 1 }, /deduplication\.id/],
      [{ id: "x", ttlMs: 1, mode: "last" }, /deduplication\.mode/],
    ] as const
  ) {
    await assert.rejects(
      app.addTask("t", ["ok"], { deduplication: deduplication as never }),
      (error: unknown) => error instanceof TypeError && pattern.test(error.message),
    );
  }
  assert.deepEqual((await app.broker.operations?.list({ status: "queued" }))?.records, []);
});

test("addTasks, chains and groups refuse a deduplication with a TypeError, and a flow's steps ignore the task's", async () => {
  const app = backendApp("memory", "dedup");
  const plain = app.task("plain", (n: number) => n);
  const once = app.task(
    { name: "once", deduplication: { id: "one", ttlMs: 60_000 } },
    (n: number) => n,
  );
  await assert.rejects(once.addTasks([[1], [2]]), /deduplication is not supported by addTasks/);
  await assert.rejects(
    plain.withOptions({ deduplication: { id: "x", ttlMs: 1_000 } }).addTasks([[1]]),
    TypeError,
  );
  assert.equal((await once.withOptions({ deduplication: false }).addTasks([[1], [2]])).length, 2);
  await assert.rejects(
    app.chain(plain.withOptions({ deduplication: { id: "x", ttlMs: 1_000 } }).s(1)).pipe(plain)
      .addTask(),
    (error: unknown) =>
      error instanceof TypeError &&
      /option deduplication is not supported there/.test(error.message),
  );
  await assert.rejects(
    app.group([plain.s(1), plain.withOptions({ deduplication: { id: "x", ttlMs: 1 } }).s(2)])
      .addTask(),
    TypeError,
  );
  await withApp(app, async () => {
    const job = await app.group([once.s(1), once.s(2)]).addTask();
    assert.deepEqual(await job.value({ timeoutMs: 10_000 }), [1, 2]);
  });
});

test("A deduplicated call is heard by qtasks_add_task_after_broker with the joined uuid, and by no broker_add_after", async () => {
  const app = backendApp("memory", "dedup");
  const heard: Array<[string, string]> = [];
  await app.addPlugin({
    name: "listener",
    trigger: (trigger, payload) => {
      const data = payload as { uuid?: string; task?: { uuid: string } };
      heard.push([trigger, data.uuid ?? data.task?.uuid ?? ""]);
      return undefined;
    },
  }, { triggers: ["qtasks_add_task_after_broker", "broker_add_after"] });
  const once = app.task(
    { name: "once", deduplication: { id: "one", ttlMs: 60_000 } },
    (n: number) => n,
  );
  const first = await once.addTask(1);
  // A stored task is heard by both.
  assert.deepEqual(heard.map(([trigger]) => trigger).sort(), [
    "broker_add_after",
    "qtasks_add_task_after_broker",
  ]);
  heard.length = 0;
  const second = await once.addTask(2);
  assert.equal(second.uuid, first.uuid);
  assert.deepEqual(heard, [["qtasks_add_task_after_broker", first.uuid]]);
  await app.flushAll();
});

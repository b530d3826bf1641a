/**
 * Rate limits through the app (the task option `rateLimit`, and `RateLimitedError` for a remote
 * limit), on the memory backend and on Redis: the key is computed at enqueue and stored on the
 * record, a remote limit defers the task without using an attempt, and bad limits, windows and
 * keys are refused with nothing stored. The broker side (the window, parking, waking, deferrals)
 * is in the flow-control contract (tests/contract/flow_control_contract.ts).
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { RateLimitedError } from "../../src/ports/mod.ts";
import { encodeThreadError, rebuildThreadError } from "../../src/engine/executor/_thread_error.ts";
import type { QueueTasks } from "../../mod.ts";
import { backendApp, backendLabel, BACKENDS, withApp } from "../support/with_app.ts";
import { uniqueName } from "../support/deferred.ts";

for (const backend of BACKENDS) {
  const label = backendLabel(backend);

  test(`${label}, a task with a rate limit per key starts at most the limit of each key per window`, async () => {
    const name = uniqueName("rate");
    const register = (app: QueueTasks) =>
      app.task(
        { name: "send", rateLimit: { limit: 2, durationMs: 300, key: (to: string) => to } },
        (to: string) => to,
      );
    const app = backendApp(backend, "rate", { maxTasksProcess: 10 }, name);
    // On Redis a second worker of the same app shares the limit.
    const second = backend === "redis"
      ? backendApp(backend, "rate", { maxTasksProcess: 10 }, name)
      : undefined;
    const send = register(app);
    if (second) register(second);
    await withApp(app, async () => {
      if (second) await second.start();
      try {
        const calls = [];
        for (let i = 0; i < 6; i++) calls.push(await send.addTask(i % 2 === 0 ? "a" : "b"));
        for (const call of calls) await call.value({ timeoutMs: 10_000 });
        const records = await Promise.all(calls.map((call) => call.get()));
        for (const key of ["a", "b"]) {
          const starts = records.filter((r) => r?.args[0] === key)
            .map((r) => r?.startedAt?.getTime() ?? 0).sort((x, y) => x - y);
          assert.equal(starts.length, 3);
          // The third start of a key waited for the first to leave the window (server time).
          assert.ok(starts[2] - starts[0] >= 299, `${key}: ${starts[2] - starts[0]} ms`);
        }
      } finally {
        if (second) await second.stop({ graceMs: 1_000 });
      }
    });
  });

  test(`${label}, a task that throws RateLimitedError runs again after the delay, on the same attempt`, async () => {
    const app = backendApp(backend, "rate", {}, uniqueName("rate"));
    let calls = 0;
    const fetchPage = app.task({ name: "fetchPage", retry: 0 }, () => {
      calls++;
      if (calls === 1) throw new RateLimitedError(100, "429 Too Many Requests");
      return "page";
    });
    await withApp(app, async () => {
      const call = await fetchPage.addTask();
      assert.equal(await call.value({ timeoutMs: 10_000 }), "page", "not failed, though retry: 0");
      const record = await call.get();
      assert.equal(calls, 2);
      assert.equal(record?.attempt, 1, "no attempt used");
      assert.equal(record?.deliveries, 2);
      assert.equal(record?.retryParentUuid, undefined);
      const deferredFor = (record?.startedAt?.getTime() ?? 0) - (record?.createdAt.getTime() ?? 0);
      assert.ok(deferredFor >= 99, `ran again ${deferredFor} ms after it was stored`);
    });
  });
}

test("A RateLimitedError thrown in a pool thread reaches the worker as itself, with its delay", () => {
  const thrown = new RateLimitedError(1500, "HTTP 429");
  const crossed = rebuildThreadError(structuredClone(encodeThreadError(thrown)), []);
  assert.ok(crossed instanceof RateLimitedError);
  assert.equal(crossed.retryAfterMs, 1500);
  assert.equal(crossed.message, "HTTP 429");
});

test("RateLimitedError refuses a delay that is not a finite number >= 0", () => {
  for (const ms of [-1, Number.NaN, Infinity, "5"]) {
    assert.throws(() => new RateLimitedError(ms as number), TypeError, String(ms));
  }
  const error = new RateLimitedError(1.2);
  assert.equal(error.retryAfterMs, 2);
  assert.equal(error.code, "RATE_LIMITED");
});

test("A rate limit whose limit or durationMs is not an integer >= 1 is refused at registration, naming the field", () => {
  const app = backendApp("memory", "rate");
  for (const limit of [0, -1, 1.5, Number.NaN, "2"]) {
    assert.throws(
      () =>
        app.task(
          { name: `l${String(limit)}`, rateLimit: { limit: limit as number, durationMs: 1000 } },
          () => 1,
        ),
      (error: unknown) =>
        error instanceof TypeError &&
        /rateLimit\.limit must be an integer >= 1/.test(error.message),
      String(limit),
    );
  }
  for (const durationMs of [0, -1000, 0.5, Number.NaN, undefined, "1000"]) {
    assert.throws(
      () =>
        app.task(
          {
            name: `d${String(durationMs)}`,
            rateLimit: { limit: 1, durationMs: durationMs as number },
          },
          () => 1,
        ),
      (error: unknown) =>
        error instanceof TypeError &&
        /rateLimit\.durationMs must be an integer/.test(error.message),
      String(durationMs),
    );
  }
  assert.throws(
    () =>
      app.task({ name: "k", rateLimit: { limit: 1, durationMs: 1, key: "x" as never } }, () => 1),
    /rateLimit\.key must be a function/,
  );
  assert.throws(
    () => app.task({ name: "o", rateLimit: 5 as never }, () => 1),
    /rateLimit must be an object/,
  );
});

for (const backend of BACKENDS) {
  test(`${backendLabel(backend)}, a rate-limit key that throws or does not return a non-empty string is refused at enqueue, naming the field, with nothing stored`, async () => {
    const app = backendApp(backend, "rate");
    app.task({
      name: "t",
      rateLimit: {
        limit: 1,
        durationMs: 1000,
        key: (value: unknown) => {
          if (value === "boom") throw new Error("no key");
          return value as string;
        },
      },
    }, () => 1);
    const cases: Array<[unknown, RegExp]> = [
      ["boom", /rateLimit\.key threw: no key/],
      [42, /rateLimit\.key must return a non-empty string .*got number/],
      ["", /rateLimit\.key must return a non-empty string .*got a string of 0 characters/],
      ["x".repeat(201), /got a string of 201 characters/],
    ];
    await withApp(app, async () => {
      for (const [arg, pattern] of cases) {
        await assert.rejects(
          app.addTask("t", [arg]),
          (error: unknown) => error instanceof TypeError && pattern.test(error.message),
          String(arg).slice(0, 10),
        );
      }
      assert.deepEqual((await app.broker.operations?.list({ status: "queued" }))?.records, []);
    });
  });
}

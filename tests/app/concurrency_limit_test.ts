/**
 * Concurrency limits across workers through the app (the task option `concurrency`), on the
 * memory backend and on Redis: at most `limit` tasks of one slot (the task name, or its key) run at
 * once, whatever the number of workers; bad limits and keys are refused with nothing stored. The
 * broker side (parking, slots freed on settle and lease expiry) is in the flow-control contract
 * (tests/contract/flow_control_contract.ts).
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { QueueTasks } from "../../mod.ts";
import { backendApp, backendLabel, BACKENDS, withApp } from "../support/with_app.ts";
import { uniqueName } from "../support/deferred.ts";

/** Registers the "crawl" task: per-host limit 2; it records how many of each host run at once. */
function register(app: QueueTasks, peak: Map<string, number>, running: Map<string, number>) {
  return app.task(
    { name: "crawl", concurrency: { limit: 2, key: (host: string) => host } },
    async (host: string) => {
      const now = (running.get(host) ?? 0) + 1;
      running.set(host, now);
      peak.set(host, Math.max(peak.get(host) ?? 0, now));
      peak.set("*", Math.max(peak.get("*") ?? 0, [...running.values()].reduce((a, b) => a + b)));
      await new Promise((resolve) => setTimeout(resolve, 20));
      running.set(host, (running.get(host) ?? 1) - 1);
      return host;
    },
  );
}

for (const backend of BACKENDS) {
  const label = backendLabel(backend);

  test(`${label}, a task with a concurrency limit per key runs at most the limit of each key at once`, async () => {
    const name = uniqueName("concurrency");
    const app = backendApp(backend, "concurrency", { maxTasksProcess: 10 }, name);
    // On Redis a second worker of the same app shares the limit.
    const second = backend === "redis"
      ? backendApp(backend, "concurrency", { maxTasksProcess: 10 }, name)
      : undefined;
    const peak = new Map<string, number>();
    const running = new Map<string, number>();
    const crawl = register(app, peak, running);
    if (second) register(second, peak, running);
    await withApp(app, async () => {
      if (second) await second.start();
      try {
        const calls = [];
        for (let i = 0; i < 8; i++) {
          calls.push(await crawl.addTask(i % 2 === 0 ? "a.example" : "b.example"));
        }
        for (const call of calls) await call.value({ timeoutMs: 10_000 });
      } finally {
        if (second) await second.stop({ graceMs: 1_000 });
      }
    });
    assert.equal(peak.get("a.example"), 2, "never more than 2 of a host, and 2 did run together");
    assert.equal(peak.get("b.example"), 2);
    assert.ok((peak.get("*") ?? 0) > 2, "the limit counts per key, not per task name");
  });
}

test("A concurrency limit that is not an integer >= 1 is refused at registration, naming the field", () => {
  const app = backendApp("memory", "concurrency");
  for (const limit of [0, -1, 1.5, Number.NaN, "2"]) {
    assert.throws(
      () =>
        app.task({ name: `t${String(limit)}`, concurrency: { limit: limit as number } }, () => 1),
      (error: unknown) =>
        error instanceof TypeError &&
        /concurrency\.limit must be an integer >= 1/.test(error.message),
      String(limit),
    );
  }
  assert.throws(
    () => app.task({ name: "k", concurrency: { limit: 1, key: "host" as never } }, () => 1),
    /concurrency\.key must be a function/,
  );
});

test("A concurrency key that throws or does not return a non-empty string is refused at enqueue, naming the field, with nothing stored", async () => {
  const app = backendApp("memory", "concurrency");
  app.task({
    name: "t",
    concurrency: {
      limit: 1,
      key: (value: unknown) => {
        if (value === "boom") throw new Error("no host");
        return value as string;
      },
    },
  }, () => 1);
  const cases: Array<[unknown, RegExp]> = [
    ["boom", /concurrency\.key threw: no host/],
    [42, /concurrency\.key must return a non-empty string .*got number/],
    ["", /concurrency\.key must return a non-empty string .*got a string of 0 characters/],
    ["x".repeat(201), /got a string of 201 characters/],
  ];
  for (const [arg, pattern] of cases) {
    await assert.rejects(
      app.addTask("t", [arg]),
      (error: unknown) => error instanceof TypeError && pattern.test(error.message),
      String(arg).slice(0, 10),
    );
  }
  assert.deepEqual((await app.broker.operations?.list({ status: "queued" }))?.records, []);
});

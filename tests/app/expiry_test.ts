/**
 * Task deadlines through the app (`expiresInMs`, `expiresAt`), on the memory backend and on
 * Redis: a task not started in time ends as `cancel` with a TaskExpiredError's fields instead of
 * running late; bad deadlines are refused at enqueue with nothing stored. The broker side is in
 * the flow-control contract (tests/contract/flow_control_contract.ts).
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { TaskFailedError } from "../../mod.ts";
import { backendApp, backendLabel, BACKENDS, withApp } from "../support/with_app.ts";

/** Resolves after `ms`: the deadline is a point in time, so the test lets it pass. */
function pass(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

for (const backend of BACKENDS) {
  const label = backendLabel(backend);

  test(`${label}, a task not started by its deadline ends as cancel (TASK_EXPIRED) and never runs`, async () => {
    const app = backendApp(backend, "expiry");
    let runs = 0;
    const work = app.task("work", () => ++runs);
    const late = await work.withOptions({ expiresInMs: 30 }).addTask();
    const onTime = await work.withOptions({ expiresAt: new Date(Date.now() + 600_000) }).addTask();
    await pass(80);
    await withApp(app, async () => {
      assert.equal(await onTime.value({ timeoutMs: 5_000 }), 1);
      await assert.rejects(
        late.value({ timeoutMs: 5_000 }),
        (error: unknown) =>
          error instanceof TaskFailedError && error.record.status === "cancel" &&
          error.record.error?.code === "TASK_EXPIRED",
      );
      assert.equal(runs, 1);
    });
  });
}

test("A deadline that is not positive, in the past, not after the delay, or given twice is refused at enqueue, naming the field, with nothing stored", async () => {
  const app = backendApp("memory", "expiry");
  app.task("t", () => 1);
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ expiresInMs: 0 }, /expiresInMs must be a positive number of milliseconds, got 0/],
    [{ expiresInMs: -5 }, /expiresInMs must be a positive number of milliseconds, got -5/],
    [{ expiresInMs: Number.NaN }, /expiresInMs must be a positive number/],
    [{ expiresAt: Date.now() - 1_000 }, /expiresAt is in the past/],
    [{ expiresAt: "soon" }, /expiresAt must be a Date or milliseconds since the epoch/],
    [{ expiresInMs: 100, delayMs: 200 }, /deadline \(100 ms\) must be later than its delay/],
    [{ expiresInMs: 100, expiresAt: Date.now() + 100 }, /either expiresInMs or expiresAt/],
  ];
  for (const [options, pattern] of cases) {
    await assert.rejects(
      app.addTask("t", [], options),
      (error: unknown) =>
        (error instanceof RangeError || error instanceof TypeError) && pattern.test(error.message),
      JSON.stringify(options),
    );
  }
  assert.deepEqual((await app.broker.operations?.list({ status: "queued" }))?.records, []);
  assert.deepEqual((await app.broker.operations?.list({ status: "scheduled" }))?.records, []);
});

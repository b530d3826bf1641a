/**
 * Named queues and routing through the app, on the memory backend and on Redis: the task's
 * `queue` option and the call's, the worker's `queues` (order), an unknown queue name logged
 * once, bad names refused with nothing stored. The broker side is in the flow-control contract
 * (tests/contract/flow_control_contract.ts).
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLogger, type Logger, QueueTasks, ResultTimeoutError } from "../../mod.ts";
import type { AsyncWorker } from "../../src/ports/mod.ts";
import { backendApp, backendLabel, BACKENDS, withApp } from "../support/with_app.ts";
import { testRedisUrl, uniqueName } from "../support/deferred.ts";
import { weightedOrder } from "../../src/model/queue_name.ts";

/** A logger that keeps its warnings. */
function warningLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    ...createLogger("silent"),
    warn: (message: string) => void warnings.push(message),
    warnings,
  };
}

for (const backend of BACKENDS) {
  const label = backendLabel(backend);

  test(`${label}, a worker given queues runs the tasks of those queues and leaves the default queue`, async () => {
    const app = backendApp(backend, "queues");
    const send = app.task({ name: "send", queue: "emails" }, (to: string) => `sent ${to}`);
    const plain = app.task("plain", () => "plain");
    (app.worker as AsyncWorker).queues = ["emails"];
    await withApp(app, async () => {
      const waiting = await plain.addTask();
      const sent = await send.addTask("ada");
      assert.equal(await sent.value({ timeoutMs: 5_000 }), "sent ada");
      assert.equal((await sent.get())?.queue, "emails");
      await assert.rejects(waiting.result({ timeoutMs: 100 }), ResultTimeoutError);
      assert.equal((await waiting.get())?.status, "new");
    });
  });

  test(`${label}, a call's queue option overrides the task's`, async () => {
    const app = backendApp(backend, "queues");
    const work = app.task({ name: "work", queue: "slow" }, () => "done");
    (app.worker as AsyncWorker).queues = ["fast"];
    await withApp(app, async () => {
      const fast = await work.withOptions({ queue: "fast" }).addTask();
      assert.equal(await fast.value({ timeoutMs: 5_000 }), "done");
      assert.equal((await fast.get())?.queue, "fast");
      const slow = await app.addTask("work");
      await assert.rejects(slow.result({ timeoutMs: 100 }), ResultTimeoutError);
    });
  });

  test(`${label}, a worker takes from its queues in their order`, async () => {
    const app = backendApp(backend, "queues", { maxTasksProcess: 1, maxTasksPrefetch: 0 });
    const order: string[] = [];
    const low = app.task({ name: "low", queue: "low" }, () => void order.push("low"));
    const high = app.task({ name: "high", queue: "high" }, () => void order.push("high"));
    (app.worker as AsyncWorker).queues = ["high", "low"];
    const lows = [await low.addTask(), await low.addTask()];
    const highs = [await high.addTask(), await high.addTask()];
    await withApp(app, async () => {
      for (const job of [...lows, ...highs]) await job.value({ timeoutMs: 5_000 });
      assert.deepEqual(order, ["high", "high", "low", "low"]);
    });
  });

  test(`${label}, a chain's later steps go to their own queues`, async () => {
    const app = backendApp(backend, "queues");
    const add = app.task({ name: "add", queue: "cpu" }, (a: number, b: number) => a + b);
    const double = app.task({ name: "double", queue: "io" }, (n: number) => n * 2);
    const label = app.task("label", (n: number) => `${n} apples`);
    (app.worker as AsyncWorker).queues = ["io", "cpu", "default"];
    await withApp(app, async () => {
      const job = await app.chain(add.s(1, 2)).pipe(double).pipe(label).addTask();
      assert.equal(await job.value({ timeoutMs: 5_000 }), "6 apples");
      const steps = (await job.get())?.flowSteps ?? [];
      const queues = await Promise.all(steps.map(async (uuid) => (await app.get(uuid))?.queue));
      assert.deepEqual(queues, ["cpu", "io", undefined]);
    });
  });

  test(`${label}, a worker given a queue no task uses logs it once and serves the others`, async () => {
    const logger = warningLogger();
    const app = new QueueTasks({
      name: uniqueName("queues"),
      ...(backend === "redis" ? { brokerUrl: testRedisUrl() } : {}),
      env: false,
      logger,
    });
    const send = app.task({ name: "send", queue: "emails" }, () => "sent");
    (app.worker as AsyncWorker).queues = ["emials", "emails"];
    await withApp(app, async () => {
      assert.equal(await (await send.addTask()).value({ timeoutMs: 5_000 }), "sent");
      const about = logger.warnings.filter((line) => line.includes('"emials"'));
      assert.equal(about.length, 1, logger.warnings.join("\n"));
      assert.match(about[0], /no task of app .* is registered on queue "emials"/);
    });
  });
}

test("A queue name that is not 1 to 64 letters, digits, _ . or - is refused at registration, naming the field", () => {
  const app = backendApp("memory", "queues");
  assert.throws(
    () => app.task({ name: "bad", queue: "a b" }, () => 1),
    (error: unknown) =>
      error instanceof TypeError &&
      /^Cannot register task "bad": queue must be 1 to 64 letters/.test(error.message),
  );
  assert.equal(app.tasks.has("bad"), false);
});

test("A bad queue name on a call is refused at enqueue and nothing is stored", async () => {
  const app = backendApp("memory", "queues");
  app.task("t", () => 1);
  await assert.rejects(
    app.addTask("t", [], { queue: "" }),
    (error: unknown) =>
      error instanceof TypeError && /^Cannot add task "t": queue must be/.test(error.message),
  );
  assert.deepEqual((await app.broker.operations?.list({ status: "queued" }))?.records, []);
});

test("A worker's queues refuse an empty list, a bad name and a weight that is not a positive integer", () => {
  const app = backendApp("memory", "queues");
  const worker = app.worker as AsyncWorker;
  assert.throws(() => worker.queues = [], /queues must be a non-empty list/);
  assert.throws(() => worker.queues = ["ok", "no way"], /queues must be 1 to 64 letters/);
  assert.throws(
    () => worker.queues = [{ name: "io", weight: 0 }],
    /queues weight of "io" must be a positive integer, got 0/,
  );
  assert.deepEqual(worker.queues, ["default"]);
  worker.queues = ["io", { name: "cpu", weight: 2 }, "io"];
  assert.deepEqual(worker.queues, ["io", "cpu"]);
});

test("Weighted queues come first with a chance proportional to their weight, and every queue is visited", () => {
  let seed = 42;
  // A small deterministic generator (an LCG), so the test cannot flake.
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const first = new Map<string, number>();
  for (let i = 0; i < 4_000; i++) {
    const order = weightedOrder(["io", "cpu"], [3, 1], random);
    assert.deepEqual([...order].sort(), ["cpu", "io"]);
    first.set(order[0], (first.get(order[0]) ?? 0) + 1);
  }
  const share = (first.get("io") ?? 0) / 4_000;
  assert.ok(share > 0.72 && share < 0.78, `io came first in ${share} of the claims, not about 3/4`);
});

/**
 * Chains and groups, on the memory backend and on Redis: the broker runs them (the next step is
 * queued with the previous result when a step settles), gathers group results in order, and stops
 * a chain at a failure or cancel, reporting it on the chain's record.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import {
  DuplicateTaskError,
  QueueTasks,
  TaskFailedError,
  type TaskSignature,
  ValidationError,
} from "../../mod.ts";
import { deferred, uniqueName } from "../support/deferred.ts";
import { backendApp, backendLabel, BACKENDS, withApp } from "../support/with_app.ts";

const WAIT = { timeoutMs: 10_000 };

for (const backend of BACKENDS) {
  const label = backendLabel(backend);
  const makeApp = (name = uniqueName("flow")) => backendApp(backend, "flow", {}, name);

  /** Registers the tasks the tests use. */
  const arithmetic = (app: QueueTasks) => ({
    add: app.task("add", (a: number, b: number) => a + b),
    double: app.task("double", (n: number) => n * 2),
    label: app.task("label", (n: number, unit: string) => `${n} ${unit}`),
    sum: app.task("sum", (values: number[]) => values.reduce((a, b) => a + b, 0)),
    fail: app.task("fail", (n: number): number => {
      throw new Error(`refused ${n}`);
    }),
  });

  test(`${label}, a chain passes each result to the next step, before that step's own arguments`, async () => {
    const app = makeApp();
    const { add, double, label: unit } = arithmetic(app);
    await withApp(app, async () => {
      const job = await app.chain(add.s(1, 2)).pipe(double).pipe(unit, "apples").addTask();
      assert.equal(job.taskName, "@chain");
      const record = await job.result(WAIT);
      assert.equal(record.status, "success");
      assert.equal(record.returning, "6 apples");
      assert.equal(record.flowKind, "chain");
      assert.equal(record.flowSteps?.length, 3);
      const steps = await Promise.all(record.flowSteps!.map((uuid) => app.get(uuid)));
      assert.deepEqual(steps.map((step) => step?.taskName), ["add", "double", "label"]);
      assert.deepEqual(steps.map((step) => step?.args), [[1, 2], [3], [6, "apples"]]);
      assert.ok(steps.every((step) => step?.chainUuid === job.uuid), "each step names its chain");
      assert.equal(record.flowCurrent, record.flowSteps![2]);
    });
  });

  test(`${label}, a group gathers its results in order, whatever order its tasks finish in`, async () => {
    const app = makeApp();
    const secondDone = deferred();
    const slow = app.task("slow", async (n: number) => {
      await secondDone.promise; // finishes after "fast"
      return n;
    });
    const fast = app.task("fast", (n: number) => {
      queueMicrotask(() => secondDone.resolve());
      return n * 10;
    });
    await withApp(app, async () => {
      const job = await app.group([slow.s(1), fast.s(2), slow.s(3)]).addTask();
      const values: [number, number, number] = await job.value(WAIT);
      assert.deepEqual(values, [1, 20, 3]);
      const record = await job.get();
      assert.equal(record?.taskName, "@group");
      assert.equal(record?.flowKind, "group");
      const members = await Promise.all(record!.flowSteps!.map((uuid) => app.get(uuid)));
      assert.deepEqual(members.map((member) => member?.groupIndex), [0, 1, 2]);
      assert.ok(members.every((member) => member?.groupUuid === job.uuid));
      assert.deepEqual(record?.extra, {}, "the gathered results are not left on the record");
    });
  });

  test(`${label}, a chain that starts with a group gives the next step the list of results`, async () => {
    const app = makeApp();
    const { add, double, sum } = arithmetic(app);
    await withApp(app, async () => {
      const job = await app.chain(app.group([add.s(1, 2), double.s(5), add.s(0, 4)]))
        .pipe(sum).pipe(double).addTask();
      assert.equal(await job.value(WAIT), 34);
      const record = await job.get();
      const group = await app.get(record!.flowSteps![0]);
      assert.equal(group?.flowKind, "group");
      assert.equal(group?.status, "success");
      assert.deepEqual(group?.returning, [3, 10, 4]);
    });
  });

  test(`${label}, a chain fans out after a step: each member gets the result, the next step the list`, async () => {
    const app = makeApp();
    const { add, double, sum } = arithmetic(app);
    const negate = app.task("negate", (n: number) => -n);
    await withApp(app, async () => {
      const job = await app.chain(add.s(2, 3)).pipeGroup([double, negate, double]).pipe(sum)
        .addTask();
      assert.equal(await job.value(WAIT), 15);
      const record = await job.get();
      const group = await app.get(record!.flowSteps![1]);
      assert.equal(group?.flowKind, "group");
      assert.deepEqual(group?.returning, [10, -5, 10]);
      const members = await Promise.all(group!.flowSteps!.map((uuid) => app.get(uuid)));
      assert.deepEqual(members.map((member) => member?.args), [[5], [5], [5]]);
      assert.ok(members.every((member) => member?.chainUuid === job.uuid));
    });
  });

  test(`${label}, a failing step stops its chain, which reports the step's error`, async () => {
    const app = makeApp();
    const { add, double, fail } = arithmetic(app);
    await withApp(app, async () => {
      const job = await app.chain(add.s(1, 2)).pipe(fail).pipe(double).addTask();
      const record = await job.result(WAIT);
      assert.equal(record.status, "error");
      assert.equal(record.error?.message, "refused 3");
      assert.equal(record.flowFailedUuid, record.flowSteps![1]);
      assert.equal((await app.get(record.flowSteps![1]))?.status, "error");
      assert.equal(await app.get(record.flowSteps![2]), undefined, "the step after never ran");
      await assert.rejects(job.value(WAIT), TaskFailedError);
    });
  });

  test(`${label}, a failing member ends its group and the chain it is in`, async () => {
    const app = makeApp();
    const { add, sum, fail } = arithmetic(app);
    await withApp(app, async () => {
      const job = await app.chain(app.group([add.s(1, 1), fail.s(7)])).pipe(sum).addTask();
      const record = await job.result(WAIT);
      assert.equal(record.status, "error");
      assert.equal(record.error?.message, "refused 7");
      const group = await app.get(record.flowSteps![0]);
      assert.equal(group?.status, "error");
      assert.equal(group?.flowFailedUuid, record.flowFailedUuid);
      assert.equal(await app.get(record.flowSteps![1]), undefined, "sum never ran");
    });
  });

  test(`${label}, a step is retried by its policy before the chain goes on`, async () => {
    const app = makeApp();
    const { add, double } = arithmetic(app);
    let calls = 0;
    const flaky = app.task(
      { name: "flaky", retry: 2, backoff: { type: "fixed", delayMs: 0 } },
      (n: number) => {
        calls++;
        if (calls < 2) throw new Error("not yet");
        return n + 100;
      },
    );
    await withApp(app, async () => {
      const job = await app.chain(add.s(1, 2)).pipe(flaky).pipe(double).addTask();
      assert.equal(await job.value(WAIT), 206);
      assert.equal(calls, 2);
      const first = await app.get((await job.get())!.flowSteps![1]);
      assert.equal(first?.status, "retry", "the failed attempt is kept, linked to its retry");
    });
  });

  test(`${label}, cancelling a chain cancels its running step and starts nothing more`, async () => {
    const app = makeApp();
    const { double } = arithmetic(app);
    const started = deferred();
    const wait = app.task({ name: "wait", echo: true }, async (ctx, n: number) => {
      started.resolve();
      await ctx.sleep(60_000);
      return n;
    });
    await withApp(app, async () => {
      const job = await app.chain(wait.s(1)).pipe(double).addTask();
      await started.promise;
      assert.equal(await job.cancel("no longer needed"), "cancelled");
      const record = await job.result(WAIT);
      assert.equal(record.status, "cancel");
      assert.equal(record.cancelReason, "no longer needed");
      const step = await app.result(record.flowSteps![0]).result(WAIT);
      assert.equal(step.status, "cancel");
      assert.equal(await app.get(record.flowSteps![1]), undefined, "double never ran");
      assert.equal(await job.cancel(), "finished");
    });
  });

  test(`${label}, a chain runs to the end after its producer has stopped`, async () => {
    const name = uniqueName("flow-producer");
    const producer = makeApp(name);
    const { add, double } = arithmetic(producer);
    const worker = backend === "redis" ? makeApp(name) : producer;
    if (worker !== producer) arithmetic(worker);
    let uuid = "";
    if (worker !== producer) {
      const job = await producer.chain(add.s(2, 3)).pipe(double).pipe(double).addTask();
      uuid = job.uuid;
      await producer.stop();
    }
    await withApp(worker, async () => {
      if (uuid === "") {
        uuid = (await producer.chain(add.s(2, 3)).pipe(double).pipe(double).addTask()).uuid;
      }
      assert.equal(await worker.result(uuid).value(WAIT), 20);
    });
  });

  test(`${label}, a schema refusing the first step's arguments stores nothing`, async () => {
    const app = makeApp();
    const { double } = arithmetic(app);
    const square = app.task(
      { name: "square", schema: z.tuple([z.number().int()]) },
      (n: number) => n * n,
    );
    await withApp(app, async () => {
      const uuid = crypto.randomUUID();
      await assert.rejects(
        app.chain(square.s(1.5)).pipe(double).addTask({ uuid }),
        ValidationError,
      );
      await assert.rejects(
        app.group([square.s(2), square.s(0.5)]).addTask({ uuid }),
        ValidationError,
      );
      assert.equal(await app.get(uuid), undefined);
      assert.equal(
        await app.chain(square.s(3)).pipe(double).addTask({ uuid }).then((job) => job.value(WAIT)),
        18,
      );
    });
  });

  test(`${label}, a chain's uuid is refused when a record has it, and nothing else is stored`, async () => {
    const app = makeApp();
    const { add, double } = arithmetic(app);
    await withApp(app, async () => {
      const done = await app.chain(add.s(1, 1)).addTask();
      assert.equal(await done.value(WAIT), 2);
      const before = (await app.broker.storage.getAll()).length;
      await assert.rejects(
        app.chain(add.s(1, 1)).pipe(double).addTask({ uuid: done.uuid }),
        DuplicateTaskError,
      );
      assert.equal(
        (await app.broker.storage.getAll()).length,
        before,
        "the refused chain's first task is not stored",
      );
      const record = await done.get();
      assert.equal(record?.flowSteps?.length, 1, "the existing chain is unchanged");
    });
  });
}

test("A group or chain refuses what it cannot run, with a clear error", async () => {
  const app = new QueueTasks({ name: uniqueName("flow-misuse"), env: false });
  const add = app.task("add", (a: number, b: number) => a + b);
  assert.throws(() => app.group([]), RangeError);
  assert.throws(
    () => app.group([{ taskName: "add" } as unknown as TaskSignature<number>]),
    /expected a task signature/,
  );
  await assert.rejects(
    app.chain(add.withOptions({ delayMs: 10 }).s(1, 2)).addTask(),
    /option delayMs is not supported/,
  );
});

test("Chain and group types follow the tasks' signatures", () => {
  const app = new QueueTasks({ name: uniqueName("flow-types"), env: false });
  const add = app.task("add", (a: number, b: number) => a + b);
  const shout = app.task("shout", (text: string) => text.toUpperCase());
  const repeat = app.task("repeat", (text: string, times: number) => text.repeat(times));
  const total = app.task("total", (values: number[]) => values.length);
  const ok = app.chain(shout.s("a")).pipe(repeat, 2);
  const typed: typeof ok extends { addTask(): Promise<{ value(): Promise<string> }> } ? true
    : false = true;
  assert.equal(typed, true);
  app.chain(app.group([add.s(1, 2), add.s(3, 4)])).pipe(total);
  // @ts-expect-error: add's first parameter is a number, the chain's result a string
  app.chain(shout.s("a")).pipe(add, 1);
  // @ts-expect-error: repeat needs its second argument
  app.chain(shout.s("a")).pipe(repeat);
  // @ts-expect-error: a fanned-out task takes the previous result as its only argument
  app.chain(shout.s("a")).pipeGroup([add]);
  const lengths = app.chain(shout.s("a")).pipeGroup([shout, shout]);
  const both: typeof lengths extends { addTask(): Promise<{ value(): Promise<[string, string]> }> }
    ? true
    : false = true;
  assert.equal(both, true);
  // @ts-expect-error: a signature's arguments are checked too
  add.s("1", 2);
  const group = app.group([add.s(1, 2), shout.s("x")]);
  const results: typeof group extends { addTask(): Promise<{ value(): Promise<[number, string]> }> }
    ? true
    : false = true;
  assert.equal(results, true);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  createLogger,
  InvalidPayloadError,
  type Logger,
  parseQueueConfig,
  QueueTasks,
  TaskCancelError,
  type TaskContext,
  TaskTimeoutError,
} from "../../mod.ts";
import { createTaskContext } from "../../src/ports/mod.ts";
import { deferred, testRedisUrl, uniqueName } from "../support/deferred.ts";

/** Starts the app, runs `body`, and always flushes and stops it. */
async function running(app: QueueTasks, body: () => Promise<void>): Promise<void> {
  await app.start();
  try {
    await body();
  } finally {
    await app.flushAll();
    await app.stop();
  }
}

for (const backend of ["memory", "redis"] as const) {
  const label = backend === "memory" ? "In memory" : "On Redis";
  const makeApp = (logger?: Logger) =>
    new QueueTasks({
      name: uniqueName("context"),
      ...(backend === "redis" ? { brokerUrl: testRedisUrl() } : {}),
      env: false,
      logger,
      config: { logsDefaultLevel: "silent", maxTasksProcess: 4, resultTtlMs: 60_000 },
    });

  test(`${label}, ctx.metadata() reads the running task's own record`, async () => {
    const app = makeApp();
    const inspect = app.task(
      { name: "inspect", echo: true },
      async (ctx: TaskContext, label: string) => {
        const record = await ctx.metadata();
        return {
          uuid: record.uuid,
          status: record.status,
          args: record.args,
          deliveries: record.deliveries,
          label,
        };
      },
    );
    await running(app, async () => {
      const job = await inspect.withOptions({ extra: { tenant: "acme" } }).addTask("first");
      assert.deepEqual(await job.value({ timeoutMs: 5_000 }), {
        uuid: job.uuid,
        status: "process",
        args: ["first"],
        deliveries: 1,
        label: "first",
      });
    });
  });

  test(`${label}, ctx.getTask(uuid) reads another task's record, and undefined for an unknown uuid`, async () => {
    const app = makeApp();
    const double = app.task("double", (n: number) => n * 2);
    const lookUp = app.task(
      { name: "look_up", echo: true },
      async (ctx: TaskContext, uuid: string) => {
        const other = await ctx.getTask(uuid);
        const missing = await ctx.getTask(crypto.randomUUID());
        return {
          status: other?.status,
          returning: other?.returning,
          missing: missing === undefined,
        };
      },
    );
    await running(app, async () => {
      const first = await double.addTask(21);
      await first.result({ timeoutMs: 5_000 });
      const job = await lookUp.addTask(first.uuid);
      assert.deepEqual(await job.value({ timeoutMs: 5_000 }), {
        status: "success",
        returning: 42,
        missing: true,
      });
    });
  });

  test(`${label}, ctx.sleep(ms) resolves after the time, and a cancel rejects it at once: the task ends as cancel`, async () => {
    const app = makeApp();
    const asleep = deferred();
    const nap = app.task({ name: "nap", echo: true }, async (ctx: TaskContext, ms: number) => {
      const started = performance.now();
      await ctx.sleep(5);
      const slept = performance.now() - started;
      asleep.resolve();
      await ctx.sleep(ms);
      return slept;
    });
    await running(app, async () => {
      const short = await nap.addTask(1);
      assert.ok((await short.value({ timeoutMs: 5_000 })) >= 4, "slept about 5 ms");

      const long = await nap.addTask(60_000);
      await asleep.promise;
      const cancelled = performance.now();
      assert.equal(await long.cancel("not needed"), "cancelling");
      const record = await long.result({ timeoutMs: 5_000 });
      assert.equal(record.status, "cancel");
      assert.equal(record.cancelReason, "not needed");
      assert.ok(performance.now() - cancelled < 2_000, "the sleep ended at once, not after 60 s");
    });
  });

  test(`${label}, ctx.cancel(reason) ends the task as cancel with that reason`, async () => {
    const app = makeApp();
    const check = app.task({ name: "check", echo: true }, (ctx: TaskContext, stock: number) => {
      if (stock === 0) ctx.cancel("out of stock");
      return stock;
    });
    await running(app, async () => {
      const job = await check.addTask(0);
      const record = await job.result({ timeoutMs: 5_000 });
      assert.equal(record.status, "cancel");
      assert.equal(record.cancelReason, "out of stock");
      assert.equal(await (await check.addTask(3)).value({ timeoutMs: 5_000 }), 3);
    });
  });

  test(`${label}, ctx.progress(value) is readable by a producer while the task runs`, async () => {
    const app = makeApp();
    const reported = deferred();
    const release = deferred();
    const stored: boolean[] = [];
    const importRows = app.task(
      { name: "import_rows", echo: true },
      async (ctx: TaskContext, total: number) => {
        stored.push(await ctx.progress({ done: 0, total }));
        stored.push(await ctx.progress({ done: total / 2, total }));
        reported.resolve();
        await release.promise;
        stored.push(await ctx.progress({ done: total, total }));
        return total;
      },
    );
    await running(app, async () => {
      const job = await importRows.addTask(10);
      assert.equal(await job.progress(), undefined, "no progress before it runs");
      await reported.promise;
      assert.deepEqual(await job.progress(), { done: 5, total: 10 });
      const record = await job.get();
      assert.equal(record?.status, "process");
      assert.deepEqual(record?.progress, { done: 5, total: 10 });
      release.resolve();
      assert.equal(await job.value({ timeoutMs: 5_000 }), 10);
      assert.deepEqual(await job.progress(), { done: 10, total: 10 }, "kept once finished");
      assert.deepEqual(stored, [true, true, true]);
    });
  });
}

test("ctx.logger is the app's logger labelled with the task's name and uuid; ctx.config is the app's config", async () => {
  const lines: Array<{ bindings: Record<string, unknown>; message: string }> = [];
  const labelled = (bindings: Record<string, unknown>): Logger => ({
    debug: () => {},
    info: (message) => lines.push({ bindings, message }),
    warn: () => {},
    error: () => {},
    child: (more) => labelled({ ...bindings, ...more }),
  });
  const app = new QueueTasks({
    name: uniqueName("context-logger"),
    env: false,
    logger: labelled({ app: "shop" }),
    config: { maxTasksProcess: 7 },
  });
  const work = app.task({ name: "work", echo: true }, (ctx: TaskContext) => {
    ctx.logger.info("working");
    return ctx.config.maxTasksProcess;
  });
  await app.start();
  try {
    const job = await work.addTask();
    assert.equal(await job.value({ timeoutMs: 5_000 }), 7);
    const line = lines.find((entry) => entry.message === "working");
    assert.deepEqual(line?.bindings, { app: "shop", task: "work", uuid: job.uuid });
  } finally {
    await app.stop();
  }
});

test("the default logger's child writes its labels after the prefix", () => {
  const written: unknown[][] = [];
  const original = console.info;
  console.info = (...data: unknown[]) => void written.push(data);
  try {
    createLogger("info", "[qtasks]").child?.({ task: "resize", uuid: "u1" }).info("done");
  } finally {
    console.info = original;
  }
  assert.match(String(written[0][0]), /\[qtasks\] task=resize uuid=u1 INFO done$/);
});

test("the default logger escapes control characters, so a task name with a newline cannot forge a log line", () => {
  const written: unknown[][] = [];
  const original = console.warn;
  console.warn = (...data: unknown[]) => void written.push(data);
  try {
    const name = "evil\n2026-01-01T00:00:00.000Z [qtasks] ERROR forged\u001b[31m";
    createLogger("info", "[qtasks]").child?.({ task: name }).warn(`Cannot run task "${name}"`);
  } finally {
    console.warn = original;
  }
  const line = String(written[0][0]);
  assert.equal(line.split("\n").length, 1, line);
  assert.ok(!line.includes("\u001b"), "no raw escape character");
  assert.match(line, /task=evil\\n2026.*forged\\x1b\[31m WARN Cannot run task "evil\\n2026/);
});

test("ctx.sleep rejects with TaskTimeoutError at maxTime, and ctx.progress refuses a value that is not JSON", async () => {
  const app = new QueueTasks({
    name: uniqueName("context-limits"),
    env: false,
    config: { logsDefaultLevel: "silent" },
  });
  const slow = app.task({ name: "slow", echo: true, maxTime: 50 }, async (ctx: TaskContext) => {
    await ctx.sleep(60_000);
  });
  const bad = app.task({ name: "bad", echo: true }, async (ctx: TaskContext) => {
    await ctx.progress({ big: 1n });
  });
  await app.start();
  try {
    const started = performance.now();
    const timedOut = await (await slow.addTask()).result({ timeoutMs: 5_000 });
    assert.equal(timedOut.error?.type, "TaskTimeoutError");
    assert.ok(performance.now() - started < 2_000);
    const failed = await (await bad.addTask()).result({ timeoutMs: 5_000 });
    assert.equal(failed.status, "error");
    assert.equal(failed.error?.code, "INVALID_PAYLOAD");
    assert.match(failed.error?.message ?? "", /progress of task "bad"/);
  } finally {
    await app.stop();
  }
});

test("handle.call() builds the same context: sleep works, progress is refused, metadata rejects (no record)", async () => {
  const app = new QueueTasks({
    name: uniqueName("context-call"),
    env: false,
    config: { logsDefaultLevel: "silent" },
  });
  const local = app.task({ name: "local", echo: true }, async (ctx: TaskContext, n: number) => {
    await ctx.sleep(1);
    const stored = await ctx.progress(n);
    const metadata = await ctx.metadata().then(() => "found", (error: Error) => error.message);
    return { stored, metadata, name: ctx.taskName, attempt: ctx.attempt };
  });
  const result = await local.call(3);
  assert.equal(result.stored, false);
  assert.match(result.metadata, /Cannot read the record of task "local"/);
  assert.equal(result.name, "local");
  assert.equal(result.attempt, 1);
  await app.stop();
});

test("a context without services still sleeps and cancels, and rejects what needs a broker", async () => {
  const controller = new AbortController();
  const ctx = createTaskContext({
    taskName: "bare",
    uuid: crypto.randomUUID(),
    priority: 0,
    deliveries: 1,
    workerId: "w",
    signal: controller.signal,
  });
  assert.equal(ctx.config.maxTasksProcess, 10, "the default config");
  await assert.rejects(ctx.progress(1), /has no broker/);
  await assert.rejects(ctx.sleep(-1), RangeError);
  assert.throws(
    () => ctx.cancel("why"),
    (error: unknown) => error instanceof TaskCancelError && error.reason === "why",
  );
  const nap = ctx.sleep(60_000);
  controller.abort(new TaskTimeoutError("bare", 1));
  await assert.rejects(nap, TaskTimeoutError);
  await assert.rejects(ctx.progress({ x: 1n }), InvalidPayloadError);
});

test("ctx.progress names the run's delivery, not its attempt, so a re-delivered run may report", async () => {
  const calls: unknown[][] = [];
  const broker = {
    get: () => Promise.resolve(undefined),
    reportProgress: (...args: unknown[]) => {
      calls.push(args);
      return Promise.resolve(true);
    },
  };
  const uuid = crypto.randomUUID();
  const ctx = createTaskContext(
    {
      taskName: "redelivered",
      uuid,
      priority: 0,
      deliveries: 2,
      attempt: 1,
      workerId: "w",
      signal: new AbortController().signal,
      services: { broker, config: parseQueueConfig({}), logger: createLogger("silent") },
    },
  );
  assert.equal(await ctx.progress({ done: 1 }), true);
  assert.deepEqual(calls, [["w", uuid, 2, '{"done":1}']]);
});

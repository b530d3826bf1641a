import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type AsyncResult,
  ConfigError,
  InvalidPayloadError,
  QueueTasks,
  ResultTimeoutError,
  type TaskContext,
  TaskFailedError,
  type TaskRecord,
} from "../../mod.ts";
import { MemoryBroker } from "../../src/backends/memory/mod.ts";
import type { AddOutcome, NewTask } from "../../src/ports/mod.ts";
import { deferred, uniqueName } from "../support/deferred.ts";
import { assertType, type Equals } from "../support/type_assert.ts";
import { backendApp } from "../support/with_app.ts";

function memoryApp(config: Record<string, unknown> = {}): QueueTasks {
  return backendApp("memory", "app", config);
}

test("app.task registers under the function's name, a given name, or options.name", () => {
  const app = memoryApp();
  function resize(width: number) {
    return width * 2;
  }
  app.task(resize);
  app.task("email", (to: string) => to);
  app.task({ name: "report", priority: 3, maxTime: 100, description: "Monthly report" }, () => 1);
  assert.deepEqual([...app.tasks.keys()], ["resize", "email", "report"]);
  const report = app.tasks.get("report");
  assert.equal(report?.priority, 3);
  assert.equal(report?.maxTime, 100);
  assert.equal(report?.description, "Monthly report");
  assert.equal(app.tasks.get("email")?.priority, 0);
});

test("registering a second task under the same name is a TypeError", () => {
  const app = memoryApp();
  app.task("dup", () => 1);
  assert.throws(() => app.task("dup", () => 2), {
    name: "TypeError",
    message: 'Cannot register task "dup": a task is already registered under that name',
  });
});

test("a task without a name or function, or with a bad priority or maxTime, is refused", () => {
  const app = memoryApp();
  assert.throws(() => app.task(() => 1), TypeError);
  // @ts-expect-error: a function is required
  assert.throws(() => app.task("x"), TypeError);
  assert.throws(() => app.task({ name: "p", priority: 1.5 }, () => 1), RangeError);
  assert.throws(() => app.task({ name: "m", maxTime: -1 }, () => 1), RangeError);
});

test("tasks registered without a priority take taskDefaultPriority", () => {
  const app = memoryApp({ taskDefaultPriority: 7 });
  const handle = app.task("t", () => 1);
  assert.equal(handle.definition.priority, 7);
});

test("a handle's addTask takes exactly the function's arguments and types the result", async () => {
  const app = memoryApp();
  const greet = app.task("greet", (name: string, times: number) => `hi ${name}`.repeat(times));
  const fetchUser = app.task(
    "user",
    async (id: number) => await Promise.resolve({ id, name: "ada" }),
  );
  await app.start();
  try {
    const job = await greet.addTask("ada", 2);
    assertType<Equals<typeof job, AsyncResult<string>>>(true);
    const record = await job.result({ timeoutMs: 5_000 });
    assertType<Equals<typeof record, TaskRecord<string>>>(true);
    assert.equal(record.returning, "hi adahi ada");
    const user = await (await fetchUser.addTask(7)).value({ timeoutMs: 5_000 });
    assertType<Equals<typeof user, { id: number; name: string }>>(true);
    assert.deepEqual(user, { id: 7, name: "ada" });
    if (false as boolean) {
      // @ts-expect-error: arguments in the wrong order do not compile
      await greet.addTask(2, "ada");
      // @ts-expect-error: a missing argument does not compile
      await greet.addTask("ada");
      // @ts-expect-error: an extra argument does not compile
      await fetchUser.addTask(1, 2);
    }
  } finally {
    await app.stop();
  }
});

test("echo passes a TaskContext first and the handle takes only the remaining arguments", async () => {
  const app = memoryApp();
  const seen: TaskContext[] = [];
  const job = app.task({ name: "ctx", echo: true }, (ctx: TaskContext, n: number) => {
    seen.push(ctx);
    return `${ctx.taskName}:${n}:${ctx.attempt}`;
  });
  await app.start();
  try {
    const result = await job.addTask(5);
    assert.equal(await result.value({ timeoutMs: 5_000 }), "ctx:5:1");
    assert.equal(seen[0].taskUuid, result.uuid);
    assert.equal(seen[0].signal.aborted, false);
    if (false as boolean) {
      // @ts-expect-error: the context is not an argument of addTask
      await job.addTask({} as TaskContext, 5);
    }
  } finally {
    await app.stop();
  }
});

test("app.addTask enqueues by name with a per-call priority", async () => {
  const app = memoryApp();
  app.task({ name: "double", priority: 4 }, (n: number) => n * 2);
  const defaultPriority = await app.addTask("double", [1]);
  const urgent = await app.addTask("double", [2], { priority: -5 });
  assert.equal((await defaultPriority.get())?.priority, 4);
  assert.equal((await urgent.get())?.priority, -5);
  await app.start();
  try {
    assert.equal(await urgent.value({ timeoutMs: 5_000 }), 4);
  } finally {
    await app.stop();
  }
});

test("withOptions sets the priority and extra fields of the calls made through it", async () => {
  const app = memoryApp();
  const handle = app.task("t", (n: number) => n);
  const job = await handle.withOptions({ priority: 9, extra: { source: "api" } }).addTask(1);
  const record = await job.get();
  assert.equal(record?.priority, 9);
  assert.deepEqual(record?.extra, { source: "api" });
  assert.equal(record?.status, "new");
  await app.stop();
});

class CountingBroker extends MemoryBroker {
  adds = 0;
  override add(task: NewTask): Promise<AddOutcome | void> {
    this.adds++;
    return super.add(task);
  }
}

test("arguments that are not JSON are rejected with InvalidPayloadError and nothing is stored", async () => {
  const broker = new CountingBroker({ name: uniqueName("json") });
  const app = new QueueTasks({ broker, env: false, config: { logsDefaultLevel: "silent" } });
  const handle = app.task("big", (n: bigint) => String(n));
  await assert.rejects(handle.addTask(10n), (error: unknown) => {
    assert.ok(error instanceof InvalidPayloadError);
    assert.equal(error.code, "INVALID_PAYLOAD");
    assert.match(error.message, /arguments of task "big"/);
    return true;
  });
  assert.equal(broker.adds, 0);
  await handle.addTask(1 as unknown as bigint).catch(() => {});
  assert.equal(broker.adds, 1);
});

test("app.addTask checks its own arguments", async () => {
  const app = memoryApp();
  await assert.rejects(app.addTask(""), TypeError);
  // @ts-expect-error: args must be an array
  await assert.rejects(app.addTask("x", "not an array"), TypeError);
  await assert.rejects(app.addTask("x", [], { priority: Number.NaN }), RangeError);
});

test("result() rejects with ResultTimeoutError when the task does not finish in time", async () => {
  const app = memoryApp();
  const handle = app.task("never", () => 1);
  const job = await handle.addTask();
  await assert.rejects(job.result({ timeoutMs: 20 }), (error: unknown) => {
    assert.ok(error instanceof ResultTimeoutError);
    assert.equal(error.code, "RESULT_TIMEOUT");
    assert.equal(error.uuid, job.uuid);
    assert.equal(error.lastStatus, "new");
    return true;
  });
  assert.equal((await job.get())?.status, "new");
});

test("result() rejects with the signal's reason when aborted", async () => {
  const app = memoryApp();
  const job = await app.task("never", () => 1).addTask();
  const controller = new AbortController();
  const pending = job.result({ signal: controller.signal, timeoutMs: Infinity });
  controller.abort(new Error("caller gave up"));
  await assert.rejects(pending, { message: "caller gave up" });
});

test("value() rejects with TaskFailedError carrying the stored error", async () => {
  const app = memoryApp();
  const boom = app.task("boom", () => {
    throw new TypeError("bad input");
  });
  await app.start();
  try {
    const job = await boom.addTask();
    await assert.rejects(job.value({ timeoutMs: 5_000 }), (error: unknown) => {
      assert.ok(error instanceof TaskFailedError);
      assert.equal(error.code, "TASK_FAILED");
      assert.equal(error.record.status, "error");
      assert.equal(error.record.error?.type, "TypeError");
      assert.equal(error.record.error?.message, "bad input");
      assert.match(error.record.error?.stack ?? "", /TypeError: bad input/);
      return true;
    });
  } finally {
    await app.stop();
  }
});

test("app.get returns the record with its timings; an unknown uuid gives undefined", async () => {
  const app = memoryApp();
  const handle = app.task("t", (a: number, b: number) => a + b);
  await app.start();
  try {
    const before = Date.now();
    const job = await handle.addTask(2, 3);
    await job.result({ timeoutMs: 5_000 });
    const record = await app.get(job.uuid);
    assert.ok(record);
    assert.equal(record.taskName, "t");
    assert.deepEqual(record.args, [2, 3]);
    assert.deepEqual(record.kwargs, {});
    assert.equal(record.status, "success");
    assert.equal(record.returning, 5);
    assert.equal(record.deliveries, 1);
    assert.ok(record.createdAt.getTime() >= before - 5);
    assert.ok(record.startedAt && record.startedAt >= record.createdAt);
    assert.ok(record.finishedAt && record.finishedAt >= record.startedAt);
    assert.equal(await app.get(crypto.randomUUID()), undefined);
  } finally {
    await app.stop();
  }
});

test("ping reports a running worker only while the app is started", async () => {
  const app = memoryApp();
  assert.equal(await app.ping(), false);
  assert.equal(await app.ping({ server: false }), true);
  await app.start();
  assert.equal(await app.ping(), true);
  await app.stop();
  assert.equal(await app.ping(), false);
});

test("flushAll removes queued tasks and their records", async () => {
  const app = memoryApp();
  const job = await app.task("t", () => 1).addTask();
  await app.flushAll();
  assert.equal(await job.get(), undefined);
});

test("handle.call runs the function in this process without the queue", async () => {
  const app = memoryApp();
  const add = app.task("add", (a: number, b: number) => a + b);
  const ctx = app.task({ name: "ctx", echo: true }, (c: TaskContext, x: string) => c.taskName + x);
  assert.equal(await add.call(1, 2), 3);
  assert.equal(await ctx.call("!"), "ctx!");
});

test("an invalid app name or config is refused with a clear error", () => {
  assert.throws(() => new QueueTasks({ name: "{bad}" }), TypeError);
  assert.throws(
    () => new QueueTasks({ env: false, config: { maxTasksProcess: 0 } }),
    (error: unknown) => error instanceof ConfigError && error.field === "maxTasksProcess",
  );
  assert.throws(
    () => new QueueTasks({ brokerUrl: "http://localhost" }),
    /must start with redis:\/\/ or rediss:\/\//,
  );
});

test("result() waits for the statuses listed in resultStatusesEnd", async () => {
  const app = memoryApp({ resultStatusesEnd: ["process", "success", "error", "cancel"] });
  const release = deferred();
  const task = app.task("held", async () => {
    await release.promise;
    return "done";
  });
  await app.start();
  try {
    const job = await task.addTask();
    const record = await job.result({ timeoutMs: 5_000 });
    assert.equal(record.status, "process");
    release.resolve();
  } finally {
    release.resolve();
    await app.stop();
  }
});

test("arguments over maxPayloadBytes are refused at enqueue with InvalidPayloadError", async () => {
  const app = memoryApp({ maxPayloadBytes: 100 });
  const echo = app.task("echo", (text: string) => text);
  await assert.rejects(echo.addTask("é".repeat(60)), (error: unknown) => {
    assert.ok(error instanceof InvalidPayloadError);
    assert.match(error.message, /its arguments take 124 bytes, over maxPayloadBytes \(100\)/);
    return true;
  });
  const small = await echo.addTask("é".repeat(40));
  assert.equal((await small.get())?.status, "new");
});

test("result({ statuses }) waits for the given statuses instead of resultStatusesEnd", async () => {
  const app = memoryApp();
  const release = deferred();
  const task = app.task("held", async () => {
    await release.promise;
    return 1;
  });
  await app.start();
  try {
    const job = await task.addTask();
    assert.equal((await job.result({ statuses: ["process"], timeoutMs: 5_000 })).status, "process");
    release.resolve();
    assert.equal((await job.result({ timeoutMs: 5_000 })).status, "success");
  } finally {
    release.resolve();
    await app.stop();
  }
});

test("addTasks enqueues many typed tasks at once and validates them all first", async () => {
  const app = memoryApp();
  const add = app.task("add", (a: number, b: number) => a + b);
  const jobs = await add.addTasks([[1, 2], [3, 4], [5, 6]]);
  assert.equal(jobs.length, 3);
  if (false as boolean) {
    // @ts-expect-error: each entry must match the function's parameters
    await add.addTasks([[1, "2"]]);
  }
  await assert.rejects(
    app.addTasks("add", [[1, 2], [10n, 1]]),
    InvalidPayloadError,
  );
  await app.start();
  try {
    assert.deepEqual(await Promise.all(jobs.map((job) => job.value({ timeoutMs: 5_000 }))), [
      3,
      7,
      11,
    ]);
  } finally {
    await app.stop();
  }
});

test("a caller-chosen uuid makes addTask idempotent", async () => {
  const app = memoryApp();
  const add = app.task("add", (a: number, b: number) => a + b);
  const uuid = crypto.randomUUID();
  const first = await add.withOptions({ uuid }).addTask(1, 2);
  const again = await add.withOptions({ uuid }).addTask(1, 2);
  assert.equal(first.uuid, uuid);
  assert.equal(again.uuid, uuid);
  await app.start();
  try {
    assert.equal(await again.value({ timeoutMs: 5_000 }), 3);
    const claims = (await app.get(uuid))?.deliveries;
    assert.equal(claims, 1, "one task, run once");
    await assert.rejects(app.addTask("add", [1, 2], { uuid: "not-a-uuid" }), TypeError);
  } finally {
    await app.stop();
  }
});

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type AsyncResult,
  createLogger,
  depends,
  QueueTasks,
  Router,
  type TaskContext,
  ValidationError,
} from "../../mod.ts";
import { MemoryBroker } from "../../src/backends/memory/mod.ts";
import type { BindableTaskHandle } from "../../src/ports/mod.ts";
import { z } from "zod";
import { uniqueName } from "../support/deferred.ts";
import { assertType, type Equals } from "../support/type_assert.ts";
import { backendApp } from "../support/with_app.ts";

function memoryApp(config: Record<string, unknown> = {}): QueueTasks {
  return backendApp("memory", "router", config);
}

test("router.task takes the forms of app.task and includeRouter registers its tasks", () => {
  const router = new Router();
  function resize(width: number) {
    return width * 2;
  }
  router.task(resize);
  router.task("email", (to: string) => to);
  router.task({ name: "report", priority: 3, maxTime: 100, tags: ["monthly"] }, () => 1);
  assert.deepEqual([...router.tasks.keys()], ["resize", "email", "report"]);
  const app = memoryApp({ taskDefaultPriority: 7 });
  app.includeRouter(router);
  assert.deepEqual([...app.tasks.keys()], ["resize", "email", "report"]);
  assert.equal(app.tasks.get("report")?.priority, 3);
  assert.equal(app.tasks.get("report")?.maxTime, 100);
  assert.deepEqual(app.tasks.get("report")?.tags, ["monthly"]);
  // Without a priority of its own, a task takes the app's default, as with app.task.
  assert.equal(app.tasks.get("email")?.priority, 7);
  assert.equal(router.tasks.get("email")?.priority, 0);
});

test("a router handle is typed like an app handle", () => {
  const router = new Router();
  const greet = router.task("greet", (name: string, times: number) => `hi ${name}`.repeat(times));
  const ctx = router.task(
    { name: "ctx", echo: true },
    (context: TaskContext, n: number) => `${context.taskName}${n}`,
  );
  const db = depends(() => ({ rows: 3 }));
  const count = router.task(
    { name: "count", inject: { db } },
    ({ db }, table: string) => db.rows + table.length,
  );
  assertType<Equals<typeof greet, BindableTaskHandle<[name: string, times: number], string>>>(true);
  assertType<Equals<Parameters<typeof ctx.addTask>, [n: number]>>(true);
  assertType<Equals<Parameters<typeof count.addTask>, [table: string]>>(true);
  assertType<Equals<ReturnType<typeof count.addTask>, Promise<AsyncResult<number>>>>(true);
  if (false as boolean) {
    // @ts-expect-error: arguments in the wrong order do not compile
    void greet.addTask(2, "ada");
    // @ts-expect-error: an unknown option does not compile
    router.task({ name: "x", maxtime: 5 }, () => 1);
  }
});

test("a handle made before its router is included rejects, then works once it is", async () => {
  const router = new Router();
  const double = router.task("double", (n: number) => n * 2);
  await assert.rejects(double.addTask(1), {
    name: "TypeError",
    message: 'Cannot add task "double": its router is not included in an app',
  });
  await assert.rejects(double.call(1), {
    message: 'Cannot call task "double": its router is not included in an app',
  });
  const app = memoryApp();
  app.includeRouter(router);
  assert.equal(double.definition, app.tasks.get("double"));
  await app.start();
  try {
    assert.equal(await (await double.addTask(21)).value({ timeoutMs: 5_000 }), 42);
    const urgent = await double.withOptions({ priority: -3, extra: { via: "router" } }).addTask(1);
    const record = await urgent.result({ timeoutMs: 5_000 });
    assert.equal(record.priority, -3);
    assert.deepEqual(record.extra, { via: "router" });
    const batch = await double.addTasks([[1], [2]]);
    assert.deepEqual(await Promise.all(batch.map((job) => job.value({ timeoutMs: 5_000 }))), [
      2,
      4,
    ]);
    assert.equal(await double.call(5), 10);
  } finally {
    await app.stop();
  }
});

test("including a router whose task name the app has is the app.task TypeError, and registers none", () => {
  const router = new Router();
  router.task("a", () => 1);
  router.task("dup", () => 2);
  const app = memoryApp();
  app.task("dup", () => 0);
  assert.throws(() => app.includeRouter(router), {
    name: "TypeError",
    message: 'Cannot register task "dup": a task is already registered under that name',
  });
  assert.deepEqual([...app.tasks.keys()], ["dup"]);
  assert.throws(() => router.task("a", () => 3), {
    name: "TypeError",
    message: 'Cannot register task "a": a task is already registered under that name',
  });
});

test("a router is included once per app; a task added later is registered in its apps", () => {
  const router = new Router();
  router.task("first", () => 1);
  const app = memoryApp();
  app.includeRouter(router);
  assert.throws(() => app.includeRouter(router), {
    name: "TypeError",
    message: `Cannot include the router in app "${app.name}": it is included already`,
  });
  router.task("later", () => 2);
  assert.deepEqual([...app.tasks.keys()], ["first", "later"]);
  app.task("own", () => 3);
  assert.throws(() => router.task("own", () => 4), TypeError);
  assert.deepEqual([...router.tasks.keys()], ["first", "later"]);
  assert.throws(() => app.includeRouter({} as Router), {
    message: "Cannot include a router: it must be made with new Router()",
  });
});

test("a router included in several apps: its handles choose one with bindTo", async () => {
  const router = new Router();
  const ping = router.task("ping", () => "pong");
  const one = memoryApp();
  const two = memoryApp();
  one.includeRouter(router);
  two.includeRouter(router);
  assert.ok(one.tasks.has("ping") && two.tasks.has("ping"));
  await assert.rejects(ping.addTask(), {
    name: "TypeError",
    message:
      `Cannot add task "ping": it is registered in several apps ("${one.name}", "${two.name}"): choose one with bindTo(app)`,
  });
  const other = memoryApp();
  assert.throws(() => ping.bindTo(other), {
    message: `Cannot bind task "ping": its router is not included in app "${other.name}"`,
  });
  await two.start();
  try {
    const job = await ping.withOptions({ priority: 4 }).bindTo(two).addTask();
    const record = await job.result({ timeoutMs: 5_000 });
    assert.equal(record.returning, "pong");
    assert.equal(record.priority, 4);
    assert.equal(ping.bindTo(one).definition, one.tasks.get("ping"));
  } finally {
    await two.stop();
  }
});

test("router.task checks its options at once, with the messages of app.task", () => {
  const router = new Router();
  assert.throws(() => router.task(() => 1), {
    message: "Cannot register task: it needs a name (options.name or a named function)",
  });
  // @ts-expect-error: a function is required
  assert.throws(() => router.task("x"), {
    message: "Cannot register task: a function is required",
  });
  assert.throws(() => router.task({ name: "p", priority: 1.5 }, () => 1), {
    name: "RangeError",
    message: 'Cannot register task "p": priority must be an integer, got 1.5',
  });
  assert.throws(() => router.task({ name: "m", maxTime: 0 }, () => 1), RangeError);
  assert.throws(
    () => router.task({ name: "u", maxtime: 5 } as never, () => 1),
    { name: "TypeError", message: /^Cannot register task "u": unknown option "maxtime"/ },
  );
  assert.equal(router.tasks.size, 0);
});

test("a router's generator task is typed and run as the list of values it yields", async () => {
  const router = new Router();
  const countdown = router.task("router_countdown", function* (from: number) {
    for (let n = from; n > 0; n--) yield n;
  });
  const name = uniqueName("router-gen");
  const app = new QueueTasks({
    name,
    broker: new MemoryBroker({ name }),
    env: false,
    logger: createLogger("silent"),
  });
  app.includeRouter(router);
  await app.start();
  try {
    const values: number[] = await (await countdown.addTask(3)).value();
    assert.deepEqual(values, [3, 2, 1]);
  } finally {
    await app.stop();
  }
});

test("a router task with a schema takes the schema's input types and validates them", async () => {
  const router = new Router();
  const resize = router.task(
    { name: "router_resize", schema: z.tuple([z.string().min(1), z.number().int().positive()]) },
    (path: string, width: number) => `${path}?w=${width}`,
  );
  const echoed = router.task(
    { name: "router_echoed", echo: true, schema: z.tuple([z.coerce.number()]) },
    (ctx: TaskContext, n: number) => `${ctx.taskName}:${n + 1}`,
  );
  // @ts-expect-error: the schema's second item is a number
  void (() => resize.addTask("/a.png", "64"));
  const name = uniqueName("router-schema");
  const app = new QueueTasks({
    name,
    broker: new MemoryBroker({ name }),
    env: false,
    logger: createLogger("silent"),
  });
  app.includeRouter(router);
  await app.start();
  try {
    assert.equal(await (await resize.addTask("/a.png", 64)).value(), "/a.png?w=64");
    await assert.rejects(resize.addTask("", 0), ValidationError);
    assert.equal(await (await echoed.addTask(41)).value(), "router_echoed:42");
  } finally {
    await app.stop();
  }
});

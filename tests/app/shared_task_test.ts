import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type AsyncResult,
  depends,
  type QueueTasks,
  sharedTask,
  type SharedTaskHandle,
  type TaskContext,
  ValidationError,
} from "../../mod.ts";
import { z } from "zod";
import { uniqueName } from "../support/deferred.ts";
import { assertType, type Equals } from "../support/type_assert.ts";
import { backendApp } from "../support/with_app.ts";

function memoryApp(config: Record<string, unknown> = {}): QueueTasks {
  return backendApp("memory", "shared", config);
}

/** Shared tasks are process-wide: each test defines its own names and unshares them after. */
function sharedName(label: string): string {
  return uniqueName(`shared-${label}`);
}

test("a shared task is picked up by every app created after it, with every option incl. maxTime", async () => {
  const name = sharedName("slow");
  const slow = sharedTask(
    { name, priority: 2, maxTime: 30, description: "Sleeps", tags: ["demo"], echo: true },
    async (ctx: TaskContext, ms: number) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return ctx.taskName;
    },
  );
  try {
    assertType<Equals<typeof slow, SharedTaskHandle<[ms: number], string>>>(true);
    const app = memoryApp();
    const other = memoryApp();
    const definition = app.tasks.get(name);
    assert.equal(definition?.maxTime, 30);
    assert.equal(definition?.priority, 2);
    assert.equal(definition?.description, "Sleeps");
    assert.deepEqual(definition?.tags, ["demo"]);
    assert.ok(other.tasks.has(name));
    await app.start();
    try {
      const handle = slow.bindTo(app);
      assert.equal(await (await handle.addTask(1)).value({ timeoutMs: 5_000 }), name);
      const late = await (await handle.addTask(200)).result({ timeoutMs: 5_000 });
      assert.equal(late.status, "error");
      assert.equal(late.error?.type, "TaskTimeoutError");
    } finally {
      await app.stop();
    }
  } finally {
    slow.unshare();
  }
});

test("a shared task defined after an app is created is picked up when it starts", async () => {
  const app = memoryApp();
  const name = sharedName("late");
  const late = sharedTask(name, (n: number) => n + 1);
  try {
    assert.equal(app.tasks.has(name), false);
    await app.start();
    try {
      assert.equal(app.tasks.has(name), true);
      const job = await late.bindTo(app).addTask(1);
      assertType<Equals<typeof job, AsyncResult<number>>>(true);
      assert.equal(await job.value({ timeoutMs: 5_000 }), 2);
    } finally {
      await app.stop();
    }
  } finally {
    late.unshare();
  }
});

test("a shared task handle enqueues through the one app that picked it up, else asks for bindTo", async () => {
  const name = sharedName("one");
  const triple = sharedTask(name, (n: number) => n * 3);
  try {
    await assert.rejects(triple.addTask(1), {
      name: "TypeError",
      message:
        `Cannot add task "${name}": no app has picked up this shared task (create a QueueTasks, or call bindTo(app))`,
    });
    const app = memoryApp();
    assert.equal(triple.definition, app.tasks.get(name));
    await app.start();
    try {
      assert.equal(await (await triple.addTask(2)).value({ timeoutMs: 5_000 }), 6);
      assert.equal(await triple.call(3), 9);
      const second = memoryApp();
      await assert.rejects(triple.addTask(1), {
        name: "TypeError",
        message:
          `Cannot add task "${name}": it is registered in several apps ("${app.name}", "${second.name}"): choose one with bindTo(app)`,
      });
      const job = await triple.withOptions({ priority: 5 }).bindTo(app).addTask(4);
      const record = await job.result({ timeoutMs: 5_000 });
      assert.equal(record.returning, 12);
      assert.equal(record.priority, 5);
    } finally {
      await app.stop();
    }
  } finally {
    triple.unshare();
  }
});

test("bindTo picks a shared task up on an app that has not", async () => {
  const name = sharedName("bind");
  const app = memoryApp();
  const ping = sharedTask(name, () => "pong");
  try {
    const handle = ping.bindTo(app);
    assert.ok(app.tasks.has(name));
    assert.equal(ping.bindTo(app).definition, handle.definition);
    await app.start();
    try {
      assert.equal(await (await handle.addTask()).value({ timeoutMs: 5_000 }), "pong");
    } finally {
      await app.stop();
    }
  } finally {
    ping.unshare();
  }
});

test("shared task names are unique in the process; unshare frees the name", () => {
  const name = sharedName("dup");
  const first = sharedTask(name, () => 1);
  try {
    assert.throws(() => sharedTask(name, () => 2), {
      name: "TypeError",
      message:
        `Cannot register task "${name}": a shared task is already registered under that name`,
    });
  } finally {
    first.unshare();
  }
  const app = memoryApp();
  assert.equal(app.tasks.has(name), false);
  sharedTask(name, () => 3).unshare();
});

test("starting an app that has its own task of a shared task's name is the duplicate TypeError", async () => {
  const app = memoryApp();
  const name = sharedName("clash");
  app.task(name, () => "own");
  const shared = sharedTask(name, () => "shared");
  try {
    await assert.rejects(app.start(), {
      name: "TypeError",
      message: `Cannot register task "${name}": a task is already registered under that name`,
    });
  } finally {
    shared.unshare();
  }
});

test("a shared task with inject gets its dependencies in every app", async () => {
  const name = sharedName("inject");
  let opened = 0;
  const counter = depends(() => ++opened, { scope: "worker" });
  const read = sharedTask(
    { name, inject: { counter } },
    ({ counter }, add: number) => counter + add,
  );
  try {
    const app = memoryApp();
    await app.start();
    try {
      assert.equal(await (await read.addTask(10)).value({ timeoutMs: 5_000 }), 11);
      assert.equal(await (await read.addTask(20)).value({ timeoutMs: 5_000 }), 21);
    } finally {
      await app.stop();
    }
  } finally {
    read.unshare();
  }
});

test("a shared task with a schema takes the schema's input types and validates when enqueued", async () => {
  const name = sharedName("schema");
  const square = sharedTask(
    { name, schema: z.tuple([z.number().int()]) },
    (n: number) => n * n,
  );
  assertType<Equals<typeof square, SharedTaskHandle<[number], number>>>(true);
  // @ts-expect-error: the schema takes a number
  void (() => square.addTask("3"));
  const app = memoryApp();
  await app.start();
  try {
    assert.equal(await (await square.addTask(3)).value(), 9);
    await assert.rejects(square.addTask(1.5), ValidationError);
  } finally {
    await app.stop();
    square.unshare();
  }
});

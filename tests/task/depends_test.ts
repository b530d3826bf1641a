import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type Dependency,
  depends,
  QueueTasks,
  type TaskContext,
  TaskTimeoutError,
} from "../../mod.ts";
import type { Injected } from "../../src/ports/mod.ts";
import { deferred, testRedisUrl, uniqueName } from "../support/deferred.ts";
import { assertType, type Equals } from "../support/type_assert.ts";
import { backendApp } from "../support/with_app.ts";

function memoryApp(config: Record<string, unknown> = {}): QueueTasks {
  return backendApp("memory", "depends", config);
}

/** A resource that records its life in `log`. */
class Resource {
  static opened = 0;
  readonly id: number;
  readonly label: string;
  readonly log: string[];
  closed = false;
  constructor(label: string, log: string[]) {
    this.label = label;
    this.log = log;
    this.id = ++Resource.opened;
    log.push(`open ${label}`);
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.resolve();
    this.closed = true;
    this.log.push(`close ${this.label}`);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("a task receives its dependencies first, typed from the inject option", async () => {
  const app = memoryApp();
  const base = depends(() => 40);
  const greeting = depends(async () => await Promise.resolve("hi"));
  const add = app.task(
    { name: "add", inject: { base, greeting } },
    ({ base, greeting }, n: number) => `${greeting} ${base + n}`,
  );
  const echoed = app.task(
    { name: "echoed", echo: true, inject: { base } },
    (ctx, deps, n: number) => `${ctx.taskName}:${deps.base + n}`,
  );
  assertType<Equals<Parameters<typeof add.addTask>, [n: number]>>(true);
  assertType<Equals<Injected<{ base: typeof base }>, { readonly base: number }>>(true);
  if (false as boolean) {
    // @ts-expect-error: the dependencies are not arguments of addTask
    await add.addTask({ base: 1, greeting: "" }, 2);
    // @ts-expect-error: the context is not an argument either
    await echoed.addTask({} as TaskContext, 2);
  }
  await app.start();
  try {
    assert.equal(await (await add.addTask(2)).value({ timeoutMs: 5_000 }), "hi 42");
    assert.equal(await (await echoed.addTask(2)).value({ timeoutMs: 5_000 }), "echoed:42");
    assert.equal(app.tasks.get("add")?.inject?.base, base);
  } finally {
    await app.stop();
  }
});

test("a worker-scoped dependency is opened once for many tasks, also when they first use it at once", async () => {
  const app = memoryApp({ maxTasksProcess: 10 });
  const log: string[] = [];
  let opens = 0;
  const pool = depends(async () => {
    opens++;
    await sleep(30); // every first use arrives while the opening is under way
    return new Resource("pool", log);
  }, { scope: "worker" });
  const ids = new Set<number>();
  const first = app.task({ name: "first", inject: { pool } }, async ({ pool }, n: number) => {
    ids.add(pool.id);
    await sleep(1);
    return n;
  });
  const second = app.task({ name: "second", inject: { pool } }, ({ pool }) => pool.id);
  await app.start();
  try {
    const jobs = await first.addTasks(Array.from({ length: 30 }, (_, n) => [n]));
    jobs.push(...await second.addTasks([[], [], []]));
    for (const job of jobs) {
      assert.equal((await job.result({ timeoutMs: 5_000 })).status, "success");
    }
    assert.equal(opens, 1);
    assert.equal(ids.size, 1);
    assert.deepEqual(log, ["open pool"]);
  } finally {
    await app.stop();
  }
  assert.deepEqual(log, ["open pool", "close pool"]);
});

for (
  const [outcome, status] of [
    ["succeeds", "success"],
    ["throws", "error"],
    ["is cancelled", "cancel"],
    ["exceeds its maxTime", "error"],
  ] as const
) {
  test(`a task-scoped dependency is closed after a run that ${outcome}`, async () => {
    const app = memoryApp();
    const log: string[] = [];
    const conn = depends(() => new Resource("conn", log));
    const started = deferred();
    const task = app.task(
      {
        name: "t",
        echo: true,
        inject: { conn },
        maxTime: outcome === "exceeds its maxTime" ? 50 : 5_000,
      },
      async (ctx, { conn }) => {
        log.push(`use ${conn.label}`);
        started.resolve();
        if (outcome === "throws") throw new Error("boom");
        if (outcome !== "succeeds") {
          // Runs until cancelled or timed out.
          await new Promise((_, reject) =>
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))
          );
        }
        return conn.closed;
      },
    );
    await app.start();
    try {
      const job = await task.addTask();
      await started.promise;
      if (outcome === "is cancelled") await job.cancel("stop");
      const record = await job.result({ timeoutMs: 5_000 });
      assert.equal(record.status, status);
      if (outcome === "succeeds") assert.equal(record.returning, false); // still open during the run
      if (outcome === "exceeds its maxTime") assert.equal(record.error?.type, "TaskTimeoutError");
      // The record is stored after the dependency is closed.
      assert.deepEqual(log, ["open conn", "use conn", "close conn"]);
    } finally {
      await app.stop();
    }
  });
}

test("each run gets its own task-scoped dependency, also when runs overlap", async () => {
  const app = memoryApp({ maxTasksProcess: 5 });
  const log: string[] = [];
  const conn = depends(() => new Resource("conn", log));
  const task = app.task({ name: "t", inject: { conn } }, async ({ conn }) => {
    await sleep(10);
    return conn.closed ? -1 : conn.id;
  });
  await app.start();
  try {
    const jobs = await task.addTasks([[], [], [], [], []]);
    const ids = await Promise.all(jobs.map((job) => job.value({ timeoutMs: 5_000 })));
    assert.equal(new Set(ids).size, 5);
    assert.ok(ids.every((id) => id > 0));
    assert.equal(log.filter((line) => line === "close conn").length, 5);
  } finally {
    await app.stop();
  }
});

test("a worker-scoped dependency is closed when the worker stops, and opened again after a restart", async () => {
  const app = memoryApp();
  const log: string[] = [];
  const client = depends(() => new Resource("client", log), { scope: "worker" });
  const task = app.task({ name: "t", inject: { client } }, ({ client }) => client.id);
  await app.start();
  try {
    const firstId = await (await task.addTask()).value({ timeoutMs: 5_000 });
    await app.worker.stop();
    assert.deepEqual(log, ["open client", "close client"]);
    await app.worker.start();
    const secondId = await (await task.addTask()).value({ timeoutMs: 5_000 });
    assert.notEqual(secondId, firstId);
  } finally {
    await app.stop();
  }
  assert.deepEqual(log, ["open client", "close client", "open client", "close client"]);
});

for (const backend of ["memory", "redis"] as const) {
  const label = backend === "memory" ? "In memory" : "On Redis";
  test(`${label}, app-level dependencies are closed when the app stops, after the worker's`, async () => {
    const app = new QueueTasks({
      name: uniqueName("depends-stop"),
      ...(backend === "redis" ? { brokerUrl: testRedisUrl() } : {}),
      env: false,
      config: { logsDefaultLevel: "silent" },
    });
    const log: string[] = [];
    const inject = {
      w: depends(() => new Resource("worker", log), { scope: "worker" }),
      b: depends(() => new Resource("broker", log), { scope: "broker" }),
      s: depends(() => new Resource("storage", log), { scope: "storage" }),
      g: depends(() => new Resource("globalConfig", log), { scope: "globalConfig" }),
      t: depends(() => new Resource("task", log)),
    };
    const task = app.task({ name: "t", inject }, ({ w, b, s, g, t }) => [w, b, s, g, t].length);
    await app.start();
    try {
      const jobs = await task.addTasks([[], []]);
      for (const job of jobs) assert.equal(await job.value({ timeoutMs: 5_000 }), 5);
      assert.equal(log.filter((line) => line.startsWith("open ")).length, 6); // 4 + 2 task ones
      await app.worker.stop();
      assert.deepEqual(log.filter((line) => line.startsWith("close ") && line !== "close task"), [
        "close worker",
      ]);
    } finally {
      await app.flushAll();
      await app.stop();
    }
    assert.deepEqual(log.filter((line) => line.startsWith("close ") && line !== "close task"), [
      "close worker",
      "close broker",
      "close storage",
      "close globalConfig",
    ]);
  });
}

test("a dependency that fails to open ends the run as error, and the next run tries again", async () => {
  const app = memoryApp();
  let attempts = 0;
  const flaky = depends(() => {
    attempts++;
    if (attempts === 1) throw new Error("database down");
    return "connected";
  }, { scope: "worker" });
  const task = app.task({ name: "t", inject: { flaky } }, ({ flaky }) => flaky);
  await app.start();
  try {
    const failed = await (await task.addTask()).result({ timeoutMs: 5_000 });
    assert.equal(failed.status, "error");
    assert.equal(failed.error?.message, "database down");
    assert.equal(await (await task.addTask()).value({ timeoutMs: 5_000 }), "connected");
  } finally {
    await app.stop();
  }
});

test("opening the dependencies counts against maxTime", async () => {
  const app = memoryApp();
  const slow = depends(() => new Promise<number>(() => {}));
  const task = app.task({ name: "t", maxTime: 30, inject: { slow } }, ({ slow }) => slow);
  await app.start();
  try {
    const record = await (await task.addTask()).result({ timeoutMs: 5_000 });
    assert.equal(record.status, "error");
    assert.equal(record.error?.type, new TaskTimeoutError("t", 30).name);
  } finally {
    await app.stop();
  }
});

test("generator factories yield the value and finish on close; Symbol.dispose works too", async () => {
  const app = memoryApp();
  const log: string[] = [];
  const dir = depends(function* () {
    log.push("mkdir");
    try {
      yield "/tmp/job";
    } finally {
      log.push("rmdir");
    }
  });
  const lock = depends(async function* () {
    log.push("lock");
    yield 7;
    log.push("unlock");
  });
  const file = depends(() => ({ fd: 3, [Symbol.dispose]: () => log.push("fclose") }));
  const task = app.task(
    { name: "t", inject: { dir, lock, file } },
    ({ dir, lock, file }) => `${dir}:${lock}:${file.fd}`,
  );
  await app.start();
  try {
    assert.equal(await (await task.addTask()).value({ timeoutMs: 5_000 }), "/tmp/job:7:3");
    // Closed last opened first.
    assert.deepEqual(log, ["mkdir", "lock", "fclose", "unlock", "rmdir"]);
  } finally {
    await app.stop();
  }
});

test("a failure to close is logged and does not change the outcome", async () => {
  const errors: string[] = [];
  const app = new QueueTasks({
    name: uniqueName("depends-log"),
    env: false,
    logger: {
      debug() {},
      info() {},
      warn() {},
      error: (message) => void errors.push(message),
    },
  });
  const bad = depends(function badClose() {
    return {
      [Symbol.dispose]: () => {
        throw new Error("already closed");
      },
    };
  });
  const task = app.task({ name: "t", inject: { bad } }, () => "done");
  await app.start();
  try {
    assert.equal(await (await task.addTask()).value({ timeoutMs: 5_000 }), "done");
    assert.deepEqual(errors, [
      'Could not close dependency "badClose" (task scope): already closed',
    ]);
  } finally {
    await app.stop();
  }
});

test("handle.call opens every dependency for the call and closes it after", async () => {
  const app = memoryApp();
  const log: string[] = [];
  const client = depends(() => new Resource("client", log), { scope: "worker" });
  const task = app.task(
    { name: "t", inject: { client } },
    ({ client }, n: number) => client.label + n,
  );
  assert.equal(await task.call(1), "client1");
  assert.deepEqual(log, ["open client", "close client"]);
});

test("tasks without inject have no inject on their definition, and bad inject values are refused", () => {
  const app = memoryApp();
  assert.equal(app.task("plain", () => 1).definition.inject, undefined);
  assert.equal(app.task({ name: "empty", inject: {} }, () => 1).definition.inject, undefined);
  assert.throws(
    () =>
      app.task(
        { name: "bad", inject: { db: (() => 1) as unknown as Dependency<number> } },
        () => 1,
      ),
    {
      name: "TypeError",
      message: 'Cannot register task "bad": inject.db must be a dependency made by depends(...)',
    },
  );
  assert.throws(
    // @ts-expect-error: an unknown scope does not compile
    () => depends(() => 1, { scope: "process" }),
    { name: "TypeError", message: /unknown scope "process"/ },
  );
});

test("a task cancelled while its dependency opens ends as cancel, and the late value is closed", async () => {
  const app = memoryApp();
  const log: string[] = [];
  const opening = deferred();
  const release = deferred();
  const slow = depends(async () => {
    opening.resolve();
    await release.promise;
    return new Resource("slow", log);
  });
  let ran = false;
  const task = app.task({ name: "t", inject: { slow } }, () => {
    ran = true;
  });
  await app.start();
  try {
    const job = await task.addTask();
    await opening.promise;
    await job.cancel("not needed");
    const record = await job.result({ timeoutMs: 5_000 });
    assert.equal(record.status, "cancel");
    release.resolve();
    for (let i = 0; i < 50 && !log.includes("close slow"); i++) await sleep(2);
    assert.deepEqual(log, ["open slow", "close slow"]);
    assert.equal(ran, false);
  } finally {
    await app.stop();
  }
});

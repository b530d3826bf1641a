import { test } from "node:test";
import assert from "node:assert/strict";
import { createLogger, QueueTasks, TaskCancelError } from "../../mod.ts";
import { AsyncTaskExecutor, PluginHub, type TaskRun } from "../../src/ports/mod.ts";
import { deferred, testRedisUrl, uniqueName } from "../support/deferred.ts";

const executor = new AsyncTaskExecutor();

function taskRun(
  fn: (...args: never[]) => unknown,
  options: {
    args?: unknown[];
    maxTime?: number;
    signal?: AbortSignal;
    plugins?: PluginHub;
    generateHandler?: (value: unknown) => unknown;
  } = {},
): TaskRun {
  return {
    definition: {
      name: "gen",
      priority: 0,
      maxTime: options.maxTime,
      echo: false,
      description: undefined,
      fn,
      generateHandler: options.generateHandler,
    },
    uuid: "33333333-3333-4333-8333-333333333333",
    priority: 0,
    args: options.args ?? [],
    deliveries: 1,
    signal: options.signal ?? new AbortController().signal,
    appName: "generators",
    workerId: "w1",
    plugins: options.plugins,
    middlewaresBefore: [],
    middlewaresAfter: [],
  };
}

test("generateHandler applies to each value a sync or an async generator yields", async () => {
  const double = (value: unknown) => (value as number) * 2;
  assert.deepEqual(
    await executor.execute(taskRun(function* () {
      yield* [1, 2, 3];
    }, { generateHandler: double })),
    { status: "success", returning: "[2,4,6]" },
  );
  assert.deepEqual(
    await executor.execute(taskRun(async function* () {
      yield 1;
      await Promise.resolve();
      yield 2;
    }, { generateHandler: double })),
    { status: "success", returning: "[2,4]" },
  );
});

test("an async generateHandler is awaited for each value, in order, with the yielded value", async () => {
  const seen: unknown[] = [];
  const handler = async (value: unknown) => {
    seen.push(value);
    await new Promise((resolve) => setTimeout(resolve, 3 - seen.length));
    return { page: value };
  };
  const outcome = await executor.execute(taskRun(function* (pages: number) {
    for (let page = 1; page <= pages; page++) yield page;
  }, { args: [3], generateHandler: handler }));
  assert.deepEqual(outcome, {
    status: "success",
    returning: '[{"page":1},{"page":2},{"page":3}]',
  });
  assert.deepEqual(seen, [1, 2, 3]);
});

test("a generator's return value is kept: the result is { values, returned }", async () => {
  const sync = await executor.execute(taskRun(function* () {
    yield 3;
    yield 2;
    yield 1;
    return "liftoff";
  }));
  assert.deepEqual(JSON.parse((sync as { returning: string }).returning), {
    values: [3, 2, 1],
    returned: "liftoff",
  });
  const async = await executor.execute(taskRun(async function* () {
    yield "a";
    return { rows: 1 };
  }, { generateHandler: (value) => String(value).toUpperCase() }));
  assert.deepEqual(JSON.parse((async as { returning: string }).returning), {
    values: ["A"],
    returned: { rows: 1 },
  });
  const none = await executor.execute(taskRun(function* () {
    yield 1;
    return undefined;
  }));
  assert.deepEqual(none, { status: "success", returning: "[1]" }, "undefined: the plain list");
});

test("task_executor_run_task_gen sees the handled values and the return value, and replaces only the list", async () => {
  const hub = new PluginHub(createLogger("silent"));
  const heard: unknown[] = [];
  await hub.add({
    name: "gen",
    handlers: {
      task_executor_run_task_gen: ({ results, returned }) => {
        heard.push({ results, returned });
        return { results: results.slice(1) };
      },
    },
  });
  const outcome = await executor.execute(taskRun(function* () {
    yield* [1, 2, 3];
    return "done";
  }, { plugins: hub, generateHandler: (value) => (value as number) * 10 }));
  assert.deepEqual(heard, [{ results: [10, 20, 30], returned: "done" }]);
  assert.deepEqual(JSON.parse((outcome as { returning: string }).returning), {
    values: [20, 30],
    returned: "done",
  });
});

test("a generateHandler that throws ends the task as error and closes the generator", async () => {
  for (const kind of ["sync", "async"] as const) {
    const closed = deferred();
    const body = function* () {
      try {
        yield 1;
        yield 2;
      } finally {
        closed.resolve();
      }
    };
    const fn = kind === "sync" ? body : async function* () {
      yield* body();
    };
    const outcome = await executor.execute(taskRun(fn, {
      generateHandler: (value) => {
        if (value === 2) throw new RangeError(`no ${value}`);
        return value;
      },
    }));
    assert.equal(outcome.status, "error", kind);
    if (outcome.status === "error") assert.equal(outcome.error.message, "no 2");
    await closed.promise;
  }
});

test("maxTime and cancel stop a generator while its async handler is pending", async () => {
  const timedOut = await executor.execute(taskRun(function* () {
    yield 1;
  }, { maxTime: 30, generateHandler: () => new Promise(() => {}) }));
  assert.equal(timedOut.status, "error");
  if (timedOut.status === "error") assert.equal(timedOut.error.code, "TASK_TIMEOUT");

  const controller = new AbortController();
  const handling = deferred();
  const pending = executor.execute(taskRun(async function* () {
    yield 1;
  }, {
    signal: controller.signal,
    generateHandler: () => {
      handling.resolve();
      return new Promise(() => {});
    },
  }));
  await handling.promise;
  controller.abort(new TaskCancelError("stop"));
  assert.deepEqual(await pending, { status: "cancel", reason: "stop" });
});

for (const backend of ["memory", "redis"] as const) {
  const label = backend === "memory" ? "In memory" : "On Redis";
  test(`${label}, a generator task with generateHandler and a return value stores { values, returned }`, async () => {
    const app = new QueueTasks({
      name: uniqueName("generators"),
      ...(backend === "redis" ? { brokerUrl: testRedisUrl() } : {}),
      env: false,
      config: { logsDefaultLevel: "silent" },
    });
    const crawl = app.task({
      name: "crawl",
      generateHandler: (url: string) => Promise.resolve({ url, bytes: url.length }),
    }, async function* (...urls: string[]) {
      for (const url of urls) yield url;
      return urls.length;
    });
    const countdown = app.task("countdown", function* (from: number) {
      for (let n = from; n > 0; n--) yield n;
    });
    await app.start();
    try {
      const job = await crawl.addTask("a.example", "bb.example");
      const value: { values: Array<{ url: string; bytes: number }>; returned: number } = await job
        .value({ timeoutMs: 5_000 });
      assert.deepEqual(value, {
        values: [{ url: "a.example", bytes: 9 }, { url: "bb.example", bytes: 10 }],
        returned: 2,
      });
      const list: number[] = await (await countdown.addTask(3)).value({ timeoutMs: 5_000 });
      assert.deepEqual(list, [3, 2, 1]);
      assert.deepEqual(
        await crawl.call("c.example"),
        { values: [{ url: "c.example", bytes: 9 }], returned: 1 },
        "handle.call() gives the same shape",
      );
    } finally {
      await app.flushAll();
      await app.stop();
    }
  });
}

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  createLogger,
  type Logger,
  type Plugin,
  QueueTasks,
  TaskCancelError,
  type TaskContext,
  type TaskMiddleware,
  TaskPluginTriggerError,
  type TriggerName,
} from "../../mod.ts";
import { MemoryBroker } from "../../src/backends/memory/mod.ts";
import {
  AsyncTaskExecutor,
  AsyncWorker,
  PluginHub,
  type TaskExecutor,
  type TaskOutcome,
  type TaskRun,
} from "../../src/ports/mod.ts";
import { deferred, uniqueName } from "../support/deferred.ts";

const UUID = "22222222-2222-4222-8222-222222222222";
const BASE = { appName: "pipeline", taskName: "t", uuid: UUID };

/** A logger that keeps its error lines. */
function recordingLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  return {
    ...createLogger("silent"),
    error: (message: string) => void errors.push(message),
    errors,
  };
}

function hubWith(...plugins: Plugin[]): PluginHub {
  const hub = new PluginHub(createLogger("silent"));
  for (const plugin of plugins) void hub.add(plugin);
  return hub;
}

function taskRun(
  fn: (...args: never[]) => unknown,
  options: {
    args?: unknown[];
    maxTime?: number;
    echo?: boolean;
    signal?: AbortSignal;
    plugins?: PluginHub;
    before?: TaskMiddleware[];
    after?: TaskMiddleware[];
  } = {},
): TaskRun {
  return {
    definition: {
      name: "t",
      priority: 0,
      maxTime: options.maxTime,
      echo: options.echo ?? false,
      description: undefined,
      fn,
    },
    uuid: UUID,
    priority: 0,
    args: options.args ?? [],
    deliveries: 1,
    signal: options.signal ?? new AbortController().signal,
    appName: "pipeline",
    workerId: "w1",
    plugins: options.plugins,
    middlewaresBefore: options.before ?? [],
    middlewaresAfter: options.after ?? [],
  };
}

const executor = new AsyncTaskExecutor();

function app(options: { executor?: TaskExecutor; worker?: "own" | TaskExecutor } = {}) {
  const name = uniqueName("pipeline");
  const broker = new MemoryBroker({ name });
  const worker = options.worker === undefined ? undefined : new AsyncWorker({
    broker,
    executor: options.worker === "own" ? undefined : options.worker,
  });
  return new QueueTasks({
    name,
    broker,
    worker,
    executor: options.executor,
    logger: createLogger("silent"),
    env: false,
  });
}

/** An executor that tags each result with its name, around the default one. */
function tagging(tag: string): TaskExecutor {
  return {
    async execute(run) {
      const outcome = await executor.execute(run);
      return outcome.status === "success"
        ? {
          status: "success",
          returning: JSON.stringify({ by: tag, value: JSON.parse(outcome.returning) }),
        }
        : outcome;
    },
  };
}

// ── executors ───────────────────────────────────────────────────────────────────────────────

test("a task's own executor wins over the worker's, the worker's over the app's, the app's over the default", async () => {
  const all = app({ executor: tagging("app"), worker: tagging("worker") });
  const own = all.task({ name: "own", executor: tagging("task") }, () => 1);
  const shared = all.task("shared", () => 2);
  const appOnly = app({ executor: tagging("app") });
  const viaApp = appOnly.task("via_app", () => 3);
  const appAndOwnWorker = app({ executor: tagging("app"), worker: "own" });
  const viaAppToo = appAndOwnWorker.task("via_app_too", () => 4);
  const plain = app();
  for (const qtasks of [all, appOnly, appAndOwnWorker, plain]) await qtasks.start();
  try {
    assert.deepEqual(await (await own.addTask()).value(), { by: "task", value: 1 });
    assert.deepEqual(await (await shared.addTask()).value(), { by: "worker", value: 2 });
    assert.deepEqual(await (await viaApp.addTask()).value(), { by: "app", value: 3 });
    assert.deepEqual(await (await viaAppToo.addTask()).value(), { by: "app", value: 4 });
    assert.ok((plain.worker as AsyncWorker).executor instanceof AsyncTaskExecutor);
    assert.equal(await (await plain.task("p", () => 5).addTask()).value(), 5);
  } finally {
    for (const qtasks of [all, appOnly, appAndOwnWorker, plain]) await qtasks.stop();
  }
});

test("a custom executor receives the run with the app, worker, plugins and middlewares", async () => {
  const runs: TaskRun[] = [];
  const spy: TaskExecutor = {
    execute(run) {
      runs.push(run);
      return executor.execute(run);
    },
  };
  const qtasks = app();
  const appWide: TaskMiddleware = (_call, next) => next();
  const own: TaskMiddleware = (_call, next) => next();
  const after: TaskMiddleware = () => {};
  qtasks.addMiddleware(appWide);
  const task = qtasks.task(
    { name: "spied", executor: spy, middlewaresBefore: [own], middlewaresAfter: [after] },
    (n: number) => n,
  );
  await qtasks.start();
  try {
    assert.equal(await (await task.addTask(7)).value(), 7);
  } finally {
    await qtasks.stop();
  }
  assert.equal(runs.length, 1);
  const [run] = runs;
  assert.equal(run.appName, qtasks.name);
  assert.equal(run.workerId, (qtasks.worker as AsyncWorker).id);
  assert.equal(run.plugins, qtasks.plugins);
  assert.deepEqual(run.middlewaresBefore, [appWide, own], "app-wide first");
  assert.deepEqual(run.middlewaresAfter, [after]);
  assert.deepEqual(run.args, [7]);
});

// ── generators ──────────────────────────────────────────────────────────────────────────────

test("a sync generator task ends with the list of values it yielded", async () => {
  const outcome = await executor.execute(taskRun(function* (n: number) {
    for (let i = 1; i <= n; i++) yield i * i;
  }, { args: [3] }));
  assert.deepEqual(outcome, { status: "success", returning: "[1,4,9]" });
});

test("an async generator task ends with the list of values it yielded; an array result stays a plain result", async () => {
  const generated = await executor.execute(taskRun(async function* (word: string) {
    for (const letter of word) {
      await Promise.resolve();
      yield letter;
    }
  }, { args: ["abc"] }));
  assert.deepEqual(generated, { status: "success", returning: '["a","b","c"]' });
  const array = await executor.execute(taskRun(() => [[1], [2]]));
  assert.deepEqual(array, { status: "success", returning: "[[1],[2]]" });
  // A Map is not a generator: it is not consumed, and JSON cannot carry it (refused, not `{}`).
  const iterable = await executor.execute(taskRun(() => new Map([["a", 1]])));
  assert.equal(iterable.status, "error", "a Map is not a generator");
  assert.equal(iterable.status === "error" && iterable.error.code, "INVALID_PAYLOAD");
});

test("generator tasks run through the worker, sync and async", async () => {
  const qtasks = app();
  const countdown = qtasks.task("countdown", function* (from: number) {
    for (let n = from; n > 0; n--) yield n;
  });
  const pages = qtasks.task("pages", async function* (count: number) {
    for (let page = 1; page <= count; page++) yield { page };
  });
  await qtasks.start();
  try {
    assert.deepEqual(await (await countdown.addTask(3)).value(), [3, 2, 1]);
    assert.deepEqual(await (await pages.addTask(2)).value(), [{ page: 1 }, { page: 2 }]);
  } finally {
    await qtasks.stop();
  }
});

test("maxTime stops a slow async generator: TaskTimeoutError, and the generator is closed", async () => {
  const closed = deferred();
  let yielded = 0;
  const outcome = await executor.execute(taskRun(async function* (ctx: TaskContext) {
    try {
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (ctx.signal.aborted) return;
        yielded++;
        yield yielded;
      }
    } finally {
      closed.resolve();
    }
  }, { maxTime: 40, echo: true }));
  assert.equal(outcome.status, "error");
  if (outcome.status !== "error") return;
  assert.equal(outcome.error.type, "TaskTimeoutError");
  assert.equal(outcome.error.code, "TASK_TIMEOUT");
  await closed.promise;
  assert.ok(yielded > 0, "it yielded before the limit");
});

test("maxTime stops a sync generator between yields", async () => {
  let yielded = 0;
  let closed = false;
  const outcome = await executor.execute(taskRun(function* () {
    try {
      for (;;) {
        const until = performance.now() + 2;
        while (performance.now() < until) { /* busy */ }
        yield ++yielded;
      }
    } finally {
      closed = true;
    }
  }, { maxTime: 20 }));
  assert.equal(outcome.status, "error");
  if (outcome.status === "error") assert.equal(outcome.error.code, "TASK_TIMEOUT");
  // An endless generator ended: between two yields, and closed (its finally ran).
  assert.ok(yielded >= 1, "it yielded before the limit");
  assert.equal(closed, true, "the generator was closed");
});

test("a cancel stops an async generator: the task ends as cancel and the generator is closed", async () => {
  const controller = new AbortController();
  const closed = deferred();
  const first = deferred();
  const pending = executor.execute(taskRun(async function* (ctx: TaskContext) {
    try {
      yield 1;
      first.resolve();
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
      yield 2;
      yield 3;
    } finally {
      closed.resolve();
    }
  }, { signal: controller.signal, echo: true }));
  await first.promise;
  controller.abort(new TaskCancelError("user"));
  assert.deepEqual(await pending, { status: "cancel", reason: "user" });
  await closed.promise;
});

// ── task_executor_* triggers ────────────────────────────────────────────────────────────────

test("the task_executor_* triggers fire in order with their documented arguments", async () => {
  const heard: Array<{ name: TriggerName; args: unknown }> = [];
  const plugins = hubWith({
    name: "spy",
    trigger: (name, args) => void heard.push({ name, args: structuredClone(args) }),
  });
  const outcome = await executor.execute(taskRun((a: number, b: number) => a + b, {
    args: [1, 2],
    plugins,
    before: [(_call, next) => next()],
    after: [() => {}, () => {}],
  }));
  assert.deepEqual(outcome, { status: "success", returning: "3" });
  assert.deepEqual(heard, [
    {
      name: "task_executor_middlewares_execute",
      args: { ...BASE, position: "before", middlewares: 1 },
    },
    { name: "task_executor_args_replace", args: { ...BASE, args: [1, 2] } },
    { name: "task_executor_run_task", args: { ...BASE, result: 3 } },
    {
      name: "task_executor_middlewares_execute",
      args: { ...BASE, position: "after", middlewares: 2 },
    },
    { name: "task_executor_decode", args: { ...BASE, result: 3 } },
    { name: "task_executor_task_close", args: { ...BASE, status: "success" } },
  ]);
});

test("without middlewares, task_executor_middlewares_execute does not fire", async () => {
  const heard: TriggerName[] = [];
  const plugins = hubWith({ name: "spy", trigger: (name) => void heard.push(name) });
  await executor.execute(taskRun(() => 1, { plugins }));
  assert.deepEqual(heard, [
    "task_executor_args_replace",
    "task_executor_run_task",
    "task_executor_decode",
    "task_executor_task_close",
  ]);
});

test("args_replace replaces the arguments, run_task the result the middlewares see, decode the stored result", async () => {
  const seen: unknown[] = [];
  const plugins = hubWith({
    name: "replacer",
    handlers: {
      task_executor_args_replace: ({ args }) => ({ args: [...args, 100] }),
      task_executor_run_task: ({ result }) => ({ result: (result as number) * 2 }),
      task_executor_decode: ({ result }) => ({ result: { decoded: result } }),
    },
  });
  const outcome = await executor.execute(taskRun(
    (...numbers: number[]) => {
      seen.push(numbers);
      return numbers.reduce((sum, n) => sum + n, 0);
    },
    {
      args: [1, 2],
      plugins,
      before: [async (call, next) => {
        await next();
        seen.push(call.result);
      }],
      after: [(call) => {
        seen.push(call.result);
        call.result = (call.result as number) + 1;
      }],
    },
  ));
  assert.deepEqual(seen, [[1, 2, 100], 206, 206]);
  assert.deepEqual(outcome, { status: "success", returning: '{"decoded":207}' });
});

test("task_executor_run_task_gen replaces the list a generator yielded (and run_task does not fire)", async () => {
  const heard: TriggerName[] = [];
  const plugins = hubWith({
    name: "gen",
    handlers: {
      task_executor_run_task_gen: ({ results }) => {
        heard.push("task_executor_run_task_gen");
        return { results: results.filter((n) => (n as number) % 2 === 0) };
      },
      task_executor_run_task: () => void heard.push("task_executor_run_task"),
    },
  });
  const outcome = await executor.execute(taskRun(function* () {
    yield* [1, 2, 3, 4];
  }, { plugins }));
  assert.deepEqual(outcome, { status: "success", returning: "[2,4]" });
  assert.deepEqual(heard, ["task_executor_run_task_gen"]);
});

test("task_executor_task_close hears every outcome, and a plugin failing there is only logged", async () => {
  const statuses: string[] = [];
  const logger = recordingLogger();
  const plugins = new PluginHub(logger);
  await plugins.add({
    name: "closer",
    handlers: {
      task_executor_task_close: ({ status }) => {
        statuses.push(status);
        throw new Error("close failed");
      },
    },
  });
  const cancelled = new AbortController();
  cancelled.abort(new TaskCancelError("stop"));
  const outcomes: TaskOutcome[] = [
    await executor.execute(taskRun(() => "ok", { plugins })),
    await executor.execute(taskRun(() => {
      throw new Error("bad");
    }, { plugins })),
    await executor.execute(taskRun(() => new Promise(() => {}), {
      plugins,
      signal: cancelled.signal,
    })),
  ];
  assert.deepEqual(outcomes.map((outcome) => outcome.status), ["success", "error", "cancel"]);
  assert.deepEqual(statuses, ["success", "error", "cancel"]);
  assert.equal(logger.errors.length, 3);
  assert.match(logger.errors[0], /Plugin "closer" failed on trigger "task_executor_task_close"/);
});

// ── TaskPluginTriggerError ──────────────────────────────────────────────────────────────────

test("a TaskPluginTriggerError thrown by the task becomes the result a plugin supplies, then after-middlewares and decode run", async () => {
  const heard: unknown[] = [];
  const plugins = hubWith({
    name: "fallback",
    handlers: {
      task_executor_run_task_trigger_error: ({ error, result, appName, taskName, uuid }) => {
        heard.push({ appName, taskName, uuid, result, data: error.data, code: error.code });
        return { result: { fallback: error.data.sku } };
      },
      task_executor_decode: ({ result }) => ({ result: { decoded: result } }),
    },
  });
  const outcome = await executor.execute(taskRun((sku: string) => {
    throw new TaskPluginTriggerError("no price", { data: { sku } });
  }, {
    args: ["A-1"],
    plugins,
    after: [(call) => {
      call.result = { ...(call.result as object), after: true };
    }],
  }));
  assert.deepEqual(outcome, {
    status: "success",
    returning: '{"decoded":{"fallback":"A-1","after":true}}',
  });
  assert.deepEqual(heard, [{
    ...BASE,
    result: undefined,
    data: { sku: "A-1" },
    code: "TASK_PLUGIN_TRIGGER",
  }]);
});

test("a TaskPluginTriggerError no plugin turns into a result ends the task as error with code TASK_PLUGIN_TRIGGER", async () => {
  const offered: unknown[] = [];
  const plugins = hubWith({
    name: "undecided",
    handlers: { task_executor_run_task_trigger_error: ({ error }) => void offered.push(error) },
  });
  for (const hub of [plugins, undefined]) {
    const outcome = await executor.execute(taskRun(() => {
      throw new TaskPluginTriggerError("nobody helps");
    }, { plugins: hub, before: [(_call, next) => next()] }));
    assert.equal(outcome.status, "error");
    if (outcome.status !== "error") continue;
    assert.equal(outcome.error.type, "TaskPluginTriggerError");
    assert.equal(outcome.error.code, "TASK_PLUGIN_TRIGGER");
    assert.equal(outcome.error.message, "nobody helps");
  }
  assert.equal(offered.length, 1, "offered once, also when it goes through the middlewares");
});

test("the same TaskPluginTriggerError thrown on every run is offered on every run", async () => {
  let offers = 0;
  const plugins = hubWith({
    name: "fallback",
    handlers: {
      task_executor_run_task_trigger_error: () => {
        offers++;
        return { result: "fallback" };
      },
    },
  });
  const always = new TaskPluginTriggerError("always");
  for (let i = 0; i < 2; i++) {
    const outcome = await executor.execute(taskRun(() => {
      throw always;
    }, { plugins }));
    assert.deepEqual(outcome, { status: "success", returning: '"fallback"' });
  }
  assert.equal(offers, 2);
});

test("a plugin that throws on task_executor_run_task_trigger_error ends the task as error, without recursion", async () => {
  let calls = 0;
  const plugins = hubWith({
    name: "broken-handler",
    handlers: {
      task_executor_run_task_trigger_error: () => {
        calls++;
        throw new Error("handler broke");
      },
    },
  });
  const outcome = await executor.execute(taskRun(() => {
    throw new TaskPluginTriggerError("first");
  }, { plugins, before: [(_call, next) => next()] }));
  assert.equal(outcome.status, "error");
  if (outcome.status === "error") {
    assert.equal(outcome.error.code, "TASK_PLUGIN_TRIGGER");
    assert.match(
      outcome.error.message,
      /Plugin "broken-handler" failed on trigger "task_executor_run_task_trigger_error": handler broke/,
    );
  }
  assert.equal(calls, 1);
});

test("a plugin failing on task_executor_decode can be turned into a result by task_executor_run_task_trigger_error", async () => {
  const plugins = hubWith({
    name: "decoder",
    handlers: {
      task_executor_decode: () => {
        throw new Error("cannot decode");
      },
      task_executor_run_task_trigger_error: ({ error }) => ({
        result: { recovered: error.trigger, plugin: error.plugin },
      }),
    },
  });
  const outcome = await executor.execute(taskRun(() => 1, { plugins }));
  assert.deepEqual(outcome, {
    status: "success",
    returning: '{"recovered":"task_executor_decode","plugin":"decoder"}',
  });
});

test("a worker plugin that throws on task_executor_args_replace ends the task as error naming the plugin and the trigger", async () => {
  const qtasks = app();
  let runs = 0;
  const task = qtasks.task("guarded", () => {
    runs++;
    return 1;
  });
  await qtasks.addPlugin({
    name: "strict-args",
    handlers: {
      task_executor_args_replace: () => {
        throw new Error("arguments refused");
      },
    },
  }, { component: "worker" });
  await qtasks.start();
  try {
    const record = await (await task.addTask()).result();
    assert.equal(record.status, "error");
    assert.equal(record.error?.type, "TaskPluginTriggerError");
    assert.equal(record.error?.code, "TASK_PLUGIN_TRIGGER");
    assert.match(
      record.error?.message ?? "",
      /Plugin "strict-args" failed on trigger "task_executor_args_replace": arguments refused/,
    );
    assert.ok(qtasks.worker.running);
  } finally {
    await qtasks.stop();
  }
  assert.equal(runs, 0, "the function did not run");
});

test("an app plugin turns a task's TaskPluginTriggerError into a stored result", async () => {
  const qtasks = app();
  const price = qtasks.task("price", (sku: string): number => {
    throw new TaskPluginTriggerError("no price in the catalogue", { data: { sku } });
  });
  await qtasks.addPlugin({
    name: "fallback-price",
    handlers: { task_executor_run_task_trigger_error: () => ({ result: 0 }) },
  });
  await qtasks.start();
  try {
    const record = await (await price.addTask("A-1")).result();
    assert.equal(record.status, "success");
    assert.equal(record.returning, 0);
  } finally {
    await qtasks.stop();
  }
});

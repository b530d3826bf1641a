import { test } from "node:test";
import assert from "node:assert/strict";
import { createLogger, QueueTasks, type TaskCall, type TaskMiddleware } from "../../mod.ts";
import { MemoryBroker } from "../../src/backends/memory/mod.ts";
import { AsyncWorker } from "../../src/ports/mod.ts";
import { deferred, uniqueName } from "../support/deferred.ts";

function app(): QueueTasks {
  const name = uniqueName("middleware");
  return new QueueTasks({
    name,
    broker: new MemoryBroker({ name }),
    logger: createLogger("silent"),
    env: false,
  });
}

/** Starts the app, runs `body`, and always stops it. */
async function running(qtasks: QueueTasks, body: () => Promise<void>): Promise<void> {
  await qtasks.start();
  try {
    await body();
  } finally {
    await qtasks.stop();
  }
}

/** A before-middleware that records entering and leaving around next(). */
function around(log: string[], name: string): TaskMiddleware {
  return async (_call, next) => {
    log.push(`${name} in`);
    await next();
    log.push(`${name} out`);
  };
}

test("middlewares nest Koa-style: app-wide ones outside the task's own, after-middlewares once the run is over", async () => {
  const qtasks = app();
  const log: string[] = [];
  qtasks.addMiddleware(around(log, "app1"));
  qtasks.addMiddleware(around(log, "appAfter"), "after");
  qtasks.addMiddleware(around(log, "app2"), "before");
  const task = qtasks.task({
    name: "nested",
    middlewaresBefore: [around(log, "task1"), around(log, "task2")],
    middlewaresAfter: [around(log, "taskAfter")],
  }, () => {
    log.push("run");
    return "done";
  });
  await running(qtasks, async () => {
    assert.equal(await (await task.addTask()).value(), "done");
  });
  assert.deepEqual(log, [
    "app1 in",
    "app2 in",
    "task1 in",
    "task2 in",
    "run",
    "task2 out",
    "task1 out",
    "app2 out",
    "app1 out",
    "appAfter in",
    "taskAfter in",
    "taskAfter out",
    "appAfter out",
  ]);
});

test("a before-middleware replaces the arguments, and an after-middleware sees and replaces the result", async () => {
  const qtasks = app();
  const seen: unknown[] = [];
  const add = qtasks.task({
    name: "add",
    middlewaresBefore: [async (call, next) => {
      call.args = call.args.map((n) => (n as number) * 10);
      await next();
    }],
    middlewaresAfter: [(call) => {
      seen.push(call.result);
      call.result = { sum: call.result };
    }],
  }, (a: number, b: number) => a + b);
  await running(qtasks, async () => {
    assert.deepEqual(await (await add.addTask(1, 2)).value(), { sum: 30 });
  });
  assert.deepEqual(seen, [30]);
});

test("a timing middleware measures around next() and wraps the result", async () => {
  const qtasks = app();
  const timed: TaskMiddleware = async (call, next) => {
    const started = performance.now();
    await next();
    call.result = { value: call.result, ms: performance.now() - started };
  };
  const slow = qtasks.task(
    { name: "slow", middlewaresBefore: [timed] },
    async (ms: number) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return "ok";
    },
  );
  await running(qtasks, async () => {
    const result = await (await slow.addTask(20)).value() as unknown as {
      value: string;
      ms: number;
    };
    assert.equal(result.value, "ok");
    assert.ok(result.ms >= 15, `the middleware measured the run: ${result.ms} ms`);
  });
});

test("app-wide and per-task middlewares run once per run, however many runs there were", async () => {
  const qtasks = app();
  const counts = { appBefore: 0, appAfter: 0, taskBefore: 0, taskAfter: 0 };
  const count = (key: keyof typeof counts): TaskMiddleware => async (_call, next) => {
    counts[key]++;
    await next();
  };
  qtasks.addMiddleware(count("appBefore"));
  qtasks.addMiddleware(count("appAfter"), "after");
  const task = qtasks.task({
    name: "counted",
    middlewaresBefore: [count("taskBefore")],
    middlewaresAfter: [count("taskAfter")],
  }, (n: number) => n);
  await running(qtasks, async () => {
    for (let i = 0; i < 3; i++) assert.equal(await (await task.addTask(i)).value(), i);
  });
  assert.deepEqual(counts, { appBefore: 3, appAfter: 3, taskBefore: 3, taskAfter: 3 });
  assert.equal(task.definition.middlewaresBefore?.length, 1, "the definition is never appended to");
  assert.equal(task.definition.middlewaresAfter?.length, 1);
});

test("a middleware that throws ends the task as error, and the worker keeps running", async () => {
  const qtasks = app();
  let runs = 0;
  const broken = qtasks.task({
    name: "broken",
    middlewaresBefore: [() => {
      throw new RangeError("middleware failed");
    }],
  }, () => {
    runs++;
    return 1;
  });
  const brokenAfter = qtasks.task({
    name: "broken_after",
    middlewaresAfter: [async () => {
      await Promise.resolve();
      throw new Error("after failed");
    }],
  }, () => {
    runs++;
    return 2;
  });
  const fine = qtasks.task("fine", (n: number) => n + 1);
  await running(qtasks, async () => {
    const record = await (await broken.addTask()).result();
    assert.equal(record.status, "error");
    assert.equal(record.error?.type, "RangeError");
    assert.equal(record.error?.message, "middleware failed");
    const after = await (await brokenAfter.addTask()).result();
    assert.equal(after.status, "error");
    assert.equal(after.error?.message, "after failed");
    assert.equal(await (await fine.addTask(1)).value(), 2, "the worker still runs tasks");
    assert.ok(qtasks.worker.running);
  });
  assert.equal(runs, 1, "only the task whose before-middleware failed did not run");
});

test("a middleware that does not call next() skips the run, and the result is what it set", async () => {
  const qtasks = app();
  let runs = 0;
  const cached = qtasks.task({
    name: "cached",
    middlewaresBefore: [(call) => {
      call.result = "from cache";
    }],
  }, () => {
    runs++;
    return "computed";
  });
  await running(qtasks, async () => {
    assert.equal(await (await cached.addTask()).value(), "from cache");
  });
  assert.equal(runs, 0);
});

test("a before-middleware catches an error thrown through next() and supplies a result", async () => {
  const qtasks = app();
  const safe = qtasks.task({
    name: "safe",
    middlewaresBefore: [async (call, next) => {
      try {
        await next();
      } catch (error) {
        call.result = { failed: (error as Error).message };
      }
    }],
  }, () => {
    throw new Error("inner");
  });
  await running(qtasks, async () => {
    assert.deepEqual(await (await safe.addTask()).value(), { failed: "inner" });
  });
});

test("maxTime and cancel also end a task whose middleware never finishes", async () => {
  const qtasks = app();
  const stuck: TaskMiddleware = () => new Promise(() => {});
  const limited = qtasks.task(
    { name: "limited", maxTime: 30, middlewaresBefore: [stuck] },
    () => 1,
  );
  const cancelled = qtasks.task({ name: "cancelled", middlewaresAfter: [stuck] }, () => 2);
  const entered = deferred();
  qtasks.events.on("taskRunning", ({ taskName }) => {
    if (taskName === "cancelled") entered.resolve();
  });
  await running(qtasks, async () => {
    const record = await (await limited.addTask()).result();
    assert.equal(record.status, "error");
    assert.equal(record.error?.code, "TASK_TIMEOUT");
    const job = await cancelled.addTask();
    await entered.promise;
    await job.cancel("enough");
    assert.equal((await job.result()).status, "cancel");
  });
});

test("a middleware that calls next() twice fails the task", async () => {
  const qtasks = app();
  const twice = qtasks.task({
    name: "twice",
    middlewaresBefore: [async (_call, next) => {
      await next();
      await next();
    }],
  }, () => 1);
  await running(qtasks, async () => {
    const record = await (await twice.addTask()).result();
    assert.equal(record.status, "error");
    assert.match(record.error?.message ?? "", /next\(\) more than once/);
  });
});

test("the call carries the app, worker, task, uuid, priority, attempt and signal", async () => {
  const qtasks = app();
  const calls: TaskCall[] = [];
  qtasks.addMiddleware(async (call, next) => {
    calls.push({ ...call });
    await next();
  });
  const task = qtasks.task({ name: "described", priority: 4 }, () => null);
  await running(qtasks, async () => {
    const job = await task.addTask();
    await job.value();
    assert.equal(calls.length, 1);
    const [call] = calls;
    assert.equal(call.appName, qtasks.name);
    assert.equal(call.workerId, (qtasks.worker as AsyncWorker).id);
    assert.equal(call.taskName, "described");
    assert.equal(call.uuid, job.uuid);
    assert.equal(call.priority, 4);
    assert.equal(call.attempt, 1);
    assert.ok(call.signal instanceof AbortSignal);
    assert.deepEqual(call.args, []);
  });
});

test("a middleware added while the worker runs applies from the next run on", async () => {
  const qtasks = app();
  const double = qtasks.task("double", (n: number) => n * 2);
  await running(qtasks, async () => {
    assert.equal(await (await double.addTask(2)).value(), 4);
    qtasks.addMiddleware((call) => {
      call.result = (call.result as number) + 1;
    }, "after");
    assert.equal(await (await double.addTask(2)).value(), 5);
  });
});

test("middlewares and executors that are not functions or have no execute() are refused with a TypeError", () => {
  const qtasks = app();
  assert.throws(
    () =>
      qtasks.task({ name: "a", middlewaresBefore: ["nope" as unknown as TaskMiddleware] }, () => 1),
    {
      name: "TypeError",
      message:
        'Cannot register task "a": middlewaresBefore[0] must be a function (call, next), got string',
    },
  );
  assert.throws(
    () =>
      qtasks.task(
        { name: "b", middlewaresAfter: [() => {}, null as unknown as TaskMiddleware] },
        () => 1,
      ),
    { name: "TypeError", message: /middlewaresAfter\[1\] must be a function .* got null/ },
  );
  assert.throws(
    () =>
      qtasks.task(
        { name: "c", middlewaresBefore: (() => {}) as unknown as TaskMiddleware[] },
        () => 1,
      ),
    { name: "TypeError", message: /middlewaresBefore must be an array of functions/ },
  );
  assert.throws(
    () => qtasks.addMiddleware(42 as unknown as TaskMiddleware),
    { name: "TypeError", message: /Cannot add middleware: it must be a function .* got number/ },
  );
  assert.throws(
    () => qtasks.addMiddleware(() => {}, "around" as "before"),
    { name: "TypeError", message: /position must be "before" or "after", got around/ },
  );
  const noExecute = { run: () => {} } as unknown as AsyncWorker["executor"];
  assert.throws(
    () => qtasks.task({ name: "d", executor: noExecute }, () => 1),
    {
      name: "TypeError",
      message: 'Cannot register task "d": executor must be an object with an execute(run) method',
    },
  );
  assert.throws(
    () => new QueueTasks({ name: uniqueName("x"), env: false, executor: noExecute }),
    { name: "TypeError", message: /executor must be an object with an execute\(run\) method/ },
  );
  assert.throws(
    () => new AsyncWorker({ broker: new MemoryBroker(), executor: noExecute }),
    { name: "TypeError", message: /executor must be an object with an execute\(run\) method/ },
  );
  assert.equal(qtasks.tasks.size, 0, "nothing was registered");
});

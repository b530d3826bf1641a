import { test } from "node:test";
import assert from "node:assert/strict";
import type { TaskContext } from "../../mod.ts";
import { AsyncTaskExecutor, type TaskDefinition, type TaskRun } from "../../src/ports/mod.ts";

function run(
  fn: (...args: never[]) => unknown,
  options: { args?: unknown[]; maxTime?: number; echo?: boolean; signal?: AbortSignal } = {},
): TaskRun {
  const definition: TaskDefinition = {
    name: "t",
    priority: 0,
    maxTime: options.maxTime,
    echo: options.echo ?? false,
    description: undefined,
    fn,
  };
  return {
    definition,
    uuid: "11111111-1111-4111-8111-111111111111",
    priority: 0,
    args: options.args ?? [],
    deliveries: 2,
    signal: options.signal ?? new AbortController().signal,
    appName: "executor-test",
    workerId: "w1",
    middlewaresBefore: [],
    middlewaresAfter: [],
  };
}

const executor = new AsyncTaskExecutor();

test("AsyncTaskExecutor runs a sync function and encodes its result as JSON", async () => {
  const outcome = await executor.execute(
    run((a: number, b: number) => ({ sum: a + b }), { args: [1, 2] }),
  );
  assert.deepEqual(outcome, { status: "success", returning: '{"sum":3}' });
});

test("AsyncTaskExecutor awaits an async function; undefined is stored as null", async () => {
  assert.deepEqual(
    await executor.execute(run(async () => await Promise.resolve("x"))),
    { status: "success", returning: '"x"' },
  );
  assert.deepEqual(await executor.execute(run(() => undefined)), {
    status: "success",
    returning: "null",
  });
});

test("AsyncTaskExecutor turns a thrown error into an error outcome with type, message, stack and code", async () => {
  const outcome = await executor.execute(run(() => {
    const error = new RangeError("too big") as RangeError & { code: string };
    error.code = "E_BIG";
    throw error;
  }));
  assert.equal(outcome.status, "error");
  if (outcome.status !== "error") return;
  assert.equal(outcome.error.type, "RangeError");
  assert.equal(outcome.error.message, "too big");
  assert.equal(outcome.error.code, "E_BIG");
  assert.match(outcome.error.stack ?? "", /RangeError: too big/);
});

test("AsyncTaskExecutor stores a thrown non-Error value by its type", async () => {
  const outcome = await executor.execute(run(async () => {
    await Promise.resolve();
    throw { reason: "nope" };
  }));
  assert.deepEqual(outcome, {
    status: "error",
    error: { type: "object", message: '{"reason":"nope"}' },
    thrown: { reason: "nope" },
  });
});

test("AsyncTaskExecutor ends a task past maxTime as TaskTimeoutError and aborts its signal", async () => {
  let signal: AbortSignal | undefined;
  const outcome = await executor.execute(
    run((ctx: TaskContext) => {
      signal = ctx.signal;
      return new Promise(() => {});
    }, { maxTime: 20, echo: true }),
  );
  assert.equal(outcome.status, "error");
  if (outcome.status !== "error") return;
  assert.equal(outcome.error.type, "TaskTimeoutError");
  assert.equal(outcome.error.code, "TASK_TIMEOUT");
  assert.equal(outcome.error.message, 'Task "t" exceeded its maxTime of 20 ms');
  assert.equal(signal?.aborted, true);
});

test("AsyncTaskExecutor gives echo tasks their context", async () => {
  const outcome = await executor.execute(
    run(
      (ctx: TaskContext, x: number) =>
        `${ctx.taskName}/${ctx.taskUuid}/${ctx.attempt}/${ctx.deliveries}/${x}`,
      {
        echo: true,
        args: [4],
      },
    ),
  );
  assert.deepEqual(outcome, {
    status: "success",
    returning: '"t/11111111-1111-4111-8111-111111111111/1/2/4"', // attempt 1, delivery 2
  });
});

test("AsyncTaskExecutor ends the task when the worker aborts its signal", async () => {
  const controller = new AbortController();
  const pending = executor.execute(run(() => new Promise(() => {}), { signal: controller.signal }));
  controller.abort(new Error("The worker is shutting down"));
  const outcome = await pending;
  assert.equal(outcome.status, "error");
  if (outcome.status === "error") {
    assert.equal(outcome.error.message, "The worker is shutting down");
  }
});

test("AsyncTaskExecutor hears the abort through the run's whenAborted, with no listener on the signal", async () => {
  const controller = new AbortController();
  let listener: ((reason: unknown) => void) | undefined;
  const asked: AbortSignal[] = [];
  const task = run(() => new Promise(() => {}), { signal: controller.signal });
  task.whenAborted = (signal, onAbort) => {
    asked.push(signal);
    listener = onAbort;
    return () => listener = undefined;
  };
  const pending = executor.execute(task);
  await Promise.resolve();
  assert.deepEqual(asked, [controller.signal]);
  // Only the hook is told (the signal itself never aborts here): the run still ends.
  listener!(new Error("cancelled through the hook"));
  const outcome = await pending;
  assert.equal(outcome.status, "error");
  if (outcome.status === "error") assert.equal(outcome.error.message, "cancelled through the hook");
});

test("AsyncTaskExecutor removes its whenAborted listener once the task settles", async () => {
  let removed = 0;
  const task = run(() => Promise.resolve(7));
  task.whenAborted = () => () => void removed++;
  assert.deepEqual(await executor.execute(task), { status: "success", returning: "7" });
  assert.equal(removed, 1);
});

test("AsyncTaskExecutor reports a result that is not JSON as InvalidPayloadError", async () => {
  const outcome = await executor.execute(run(() => 10n));
  assert.equal(outcome.status, "error");
  if (outcome.status === "error") {
    assert.equal(outcome.error.type, "InvalidPayloadError");
    assert.match(outcome.error.message, /result of task "t"/);
  }
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { createLogger, type Logger, QueueTasks, TaskCancelError } from "../../mod.ts";
import { MemoryBroker } from "../../src/backends/memory/mod.ts";
import { uniqueName } from "../support/deferred.ts";

function app(logger: Logger = createLogger("silent")) {
  const name = uniqueName("events");
  return new QueueTasks({ name, broker: new MemoryBroker({ name }), logger, env: false });
}

test("every app event fires on app.events: app, worker and each task outcome", async () => {
  const qtasks = app();
  const seen: string[] = [];
  for (
    const name of [
      "starting",
      "stopping",
      "workerRunning",
      "workerStopping",
      "taskRunning",
      "taskStopping",
      "taskSuccess",
      "taskError",
      "taskCancel",
    ] as const
  ) {
    qtasks.events.on(name, (payload) => {
      const detail = "taskName" in payload ? ` ${payload.taskName}` : "";
      seen.push(name + detail);
    });
  }
  qtasks.task("ok", () => 1);
  qtasks.task("bad", () => {
    throw new Error("no");
  });
  qtasks.task("stopped", () => {
    throw new TaskCancelError("enough");
  });
  await qtasks.start();
  for (const name of ["ok", "bad", "stopped"]) {
    await (await qtasks.addTask(name)).result({ timeoutMs: 5_000 });
  }
  await qtasks.stop();
  assert.deepEqual(seen, [
    "starting",
    "workerRunning",
    "taskRunning ok",
    "taskStopping ok",
    "taskSuccess ok",
    "taskRunning bad",
    "taskStopping bad",
    "taskError bad",
    "taskRunning stopped",
    "taskStopping stopped",
    "taskCancel stopped",
    "workerStopping",
    "stopping",
  ]);
});

test("a throwing event handler is logged and the task still succeeds", async () => {
  const errors: string[] = [];
  const qtasks = app({
    ...createLogger("silent"),
    error: (message: string) => void errors.push(message),
  });
  qtasks.events.on("taskRunning", () => {
    throw new Error("handler broke");
  });
  qtasks.task("ok", () => 1);
  await qtasks.start();
  try {
    const record = await (await qtasks.addTask("ok")).result({ timeoutMs: 5_000 });
    assert.equal(record.status, "success");
    assert.match(errors.join("\n"), /A handler of event "taskRunning" failed: handler broke/);
  } finally {
    await qtasks.stop();
  }
});

test("events.on refuses unknown events, and its return removes the handler", async () => {
  const qtasks = app();
  assert.throws(() => qtasks.events.on("nope" as "starting", () => {}), TypeError);
  let calls = 0;
  const off = qtasks.events.on("starting", () => void calls++);
  off();
  await qtasks.start();
  await qtasks.stop();
  assert.equal(calls, 0);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, getRuntime, parseQueueConfig, QueueTasks } from "../../mod.ts";
import { setRuntime } from "../../src/runtime/mod.ts";

function envOf(values: Record<string, string>): (name: string) => string | undefined {
  return (name) => values[name];
}

test("parseQueueConfig fills in the QTasks defaults", () => {
  const config = parseQueueConfig();
  assert.equal(config.maxTasksProcess, 10);
  assert.equal(config.runningOlderTasks, false);
  assert.equal(config.deleteFinishedTasks, false);
  assert.equal(config.taskDefaultPriority, 0);
  assert.deepEqual(config.resultStatusesEnd, ["success", "error", "cancel"]);
  assert.equal(config.resultTtlMs, 86_400_000);
  assert.equal(config.environPrefix, "QTASKS_");
  assert.ok(Object.isFrozen(config));
});

test("parseQueueConfig reads QTASKS_* environment variables with their types", () => {
  const config = parseQueueConfig(
    {},
    envOf({
      QTASKS_MAX_TASKS_PROCESS: "25",
      QTASKS_RUNNING_OLDER_TASKS: "yes",
      QTASKS_DELETE_FINISHED_TASKS: "on",
      QTASKS_RESULT_STATUSES_END: "success, error",
      QTASKS_LOGS_DEFAULT_LEVEL: "warn",
    }),
  );
  assert.equal(config.maxTasksProcess, 25);
  assert.equal(config.runningOlderTasks, true);
  assert.equal(config.deleteFinishedTasks, true);
  assert.deepEqual(config.resultStatusesEnd, ["success", "error"]);
  assert.equal(config.logsDefaultLevel, "warn");
});

test("a custom environPrefix changes the variables read", () => {
  const config = parseQueueConfig(
    { environPrefix: "JOBS_" },
    envOf({ JOBS_MAX_TASKS_PROCESS: "3", QTASKS_MAX_TASKS_PROCESS: "9" }),
  );
  assert.equal(config.maxTasksProcess, 3);
});

test("config set in code wins over the environment", () => {
  const config = parseQueueConfig({ maxTasksProcess: 2 }, envOf({ QTASKS_MAX_TASKS_PROCESS: "9" }));
  assert.equal(config.maxTasksProcess, 2);
});

test("a bad value is a ConfigError naming the field", () => {
  assert.throws(() => parseQueueConfig({ maxTasksProcess: 0 }), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.code, "INVALID_CONFIG");
    assert.equal(error.field, "maxTasksProcess");
    assert.match(error.message, /^Invalid config field "maxTasksProcess": /);
    return true;
  });
  assert.throws(
    // @ts-expect-error: a wrong type does not compile either
    () => parseQueueConfig({ runningOlderTasks: "maybe" }),
    (error: unknown) => error instanceof ConfigError && error.field === "runningOlderTasks",
  );
  assert.throws(
    () => parseQueueConfig({ globalConfigStatusSetPeriodicMs: 30_000 }),
    (error: unknown) =>
      error instanceof ConfigError && error.field === "globalConfigStatusSetPeriodicMs",
  );
});

test("a bad environment value names the variable it came from", () => {
  assert.throws(
    () => parseQueueConfig({}, envOf({ QTASKS_DELETE_FINISHED_TASKS: "maybe" })),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.field, "deleteFinishedTasks");
      assert.match(error.message, /\(from QTASKS_DELETE_FINISHED_TASKS\)/);
      return true;
    },
  );
  assert.throws(
    () => parseQueueConfig({}, envOf({ QTASKS_MAX_TASKS_PROCESS: "many" })),
    /Invalid config field "maxTasksProcess" \(from QTASKS_MAX_TASKS_PROCESS\)/,
  );
});

test("an unknown field is refused", () => {
  assert.throws(
    // @ts-expect-error: unknown fields do not compile
    () => parseQueueConfig({ maxTaskProcess: 5 }),
    (error: unknown) =>
      error instanceof ConfigError && error.field === "maxTaskProcess" &&
      /no such config field/.test(error.message),
  );
});

test("QueueTasks reads QTASKS_* variables through the runtime adapter unless env is false", () => {
  const real = getRuntime();
  setRuntime({ ...real, env: (name) => name === "QTASKS_MAX_TASKS_PROCESS" ? "33" : undefined });
  try {
    assert.equal(
      new QueueTasks({ config: { logsDefaultLevel: "silent" } }).config.maxTasksProcess,
      33,
    );
    assert.equal(
      new QueueTasks({ env: false, config: { logsDefaultLevel: "silent" } }).config.maxTasksProcess,
      10,
    );
  } finally {
    setRuntime(undefined);
  }
});

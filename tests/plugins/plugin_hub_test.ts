import { test } from "node:test";
import assert from "node:assert/strict";
import { createLogger, type Logger, type Plugin, QueueTasks } from "../../mod.ts";
import { MemoryBroker } from "../../src/backends/memory/mod.ts";
import { uniqueName } from "../support/deferred.ts";

/** A logger that keeps its error lines. */
function recordingLogger(): Logger & { errors: string[] } {
  const errors: string[] = [];
  const base = createLogger("silent");
  return { ...base, error: (message: string) => void errors.push(message), errors };
}

function app(logger: Logger = createLogger("silent")) {
  const name = uniqueName("plugins");
  return new QueueTasks({ name, broker: new MemoryBroker({ name }), logger, env: false });
}

test("qtasks_add_task_before_broker replaces the arguments of the stored task", async () => {
  const qtasks = app();
  const greet = qtasks.task("greet", (who: string) => `hi ${who}`);
  await qtasks.addPlugin({
    name: "defaults",
    handlers: {
      qtasks_add_task_before_broker: (
        { args },
      ) => (args.length === 0 ? { args: ["anonymous"] } : undefined),
    },
  });
  const job = await qtasks.addTask("greet", []);
  assert.deepEqual((await job.get())?.args, ["anonymous"]);
  const other = await greet.addTask("ada");
  assert.deepEqual(
    (await other.get())?.args,
    ["ada"],
    "a plugin that returns nothing changes nothing",
  );
});

test("each plugin receives what the previous one left, and a partial return keeps the other fields", async () => {
  const qtasks = app();
  qtasks.task("t", (n: number) => n);
  const seen: unknown[] = [];
  await qtasks.addPlugin({
    name: "first",
    handlers: { qtasks_add_task_before_broker: () => ({ args: [2], priority: 3 }) },
  });
  await qtasks.addPlugin({
    name: "second",
    handlers: {
      qtasks_add_task_before_broker: ({ args, priority }) => {
        seen.push({ args, priority });
        return { priority: 7 }; // only the priority: args stay [2]
      },
    },
  });
  const job = await qtasks.addTask("t", [1]);
  assert.deepEqual(seen, [{ args: [2], priority: 3 }]);
  const record = await job.get();
  assert.deepEqual(record?.args, [2]);
  assert.equal(record?.priority, 7, "the last plugin that returned a field wins");
});

test("a plugin that throws is logged with its name and the trigger, and the next plugin still runs", async () => {
  const logger = recordingLogger();
  const qtasks = app(logger);
  qtasks.task("t", (n: number) => n);
  await qtasks.addPlugin({
    name: "broken",
    handlers: {
      qtasks_add_task_before_broker: () => {
        throw new Error("boom");
      },
    },
  });
  await qtasks.addPlugin({
    name: "fine",
    handlers: { qtasks_add_task_before_broker: () => ({ priority: 4 }) },
  });
  const job = await qtasks.addTask("t", [1]);
  assert.equal((await job.get())?.priority, 4);
  assert.equal(logger.errors.length, 1);
  assert.match(
    logger.errors[0],
    /Plugin "broken" failed on trigger "qtasks_add_task_before_broker": boom/,
  );
});

test("qtasks_get replaces the record read, and a trigger method hears every trigger", async () => {
  const qtasks = app();
  const heard: string[] = [];
  const plugin: Plugin = {
    name: "spy",
    trigger(name, args) {
      heard.push(name);
      if (name === "qtasks_get" && "result" in args && args.result) {
        return { result: { ...args.result, extra: { seen: "yes" } } };
      }
    },
  };
  await qtasks.addPlugin(plugin);
  qtasks.task("t", (n: number) => n);
  const job = await qtasks.addTask("t", [1]);
  const record = await qtasks.get(job.uuid);
  assert.equal(record?.extra.seen, "yes");
  await qtasks.ping({ server: false });
  await qtasks.flushAll();
  // An app plugin hears every trigger, the components' too (even in an app never started).
  assert.deepEqual(heard, [
    "qtasks_add_task_before_broker",
    "broker_add_before",
    "storage_add",
    "broker_add_after",
    "qtasks_add_task_after_broker",
    "storage_get",
    "broker_get",
    "qtasks_get",
    "storage_get", // ping({ server: false }) reads a record to see the backend answer
    "broker_get",
    "qtasks_ping",
    "storage_flush_all",
    "broker_flush_all",
    "qtasks_flush_all",
  ]);
});

test("plugins start and stop with their component, and worker triggers fire with the worker", async () => {
  const qtasks = app();
  const log: string[] = [];
  const plugin = (name: string): Plugin => ({
    name,
    start: () => void log.push(`${name} start`),
    stop: () => void log.push(`${name} stop`),
    trigger: (trigger) => void log.push(`${name} ${trigger}`),
  });
  await qtasks.addPlugin(plugin("app"), { triggers: ["qtasks_stop", "worker_start"] });
  await qtasks.addPlugin(plugin("worker"), { component: "worker" });
  await qtasks.start();
  await qtasks.stop();
  assert.deepEqual(log, [
    "app start",
    "worker start",
    "app worker_start",
    "worker worker_start",
    "app qtasks_stop",
    "worker worker_stop",
    "worker stop",
    "app stop",
  ]);
});

test("addPlugin refuses unknown triggers and components, and plugins without handlers", () => {
  const qtasks = app();
  assert.throws(
    () =>
      qtasks.addPlugin({ name: "x", trigger: () => {} }, { triggers: ["nope" as "qtasks_get"] }),
    { name: "TypeError", message: 'Cannot add plugin "x": unknown trigger "nope"' },
  );
  assert.throws(
    () => qtasks.addPlugin({ name: "x", trigger: () => {} }, { component: "db" as "app" }),
    TypeError,
  );
  assert.throws(() => qtasks.addPlugin({ name: "x" }), /needs handlers or a trigger method/);
});

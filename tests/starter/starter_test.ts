import { test } from "node:test";
import assert from "node:assert/strict";
import { getRuntime, QueueTasks } from "../../mod.ts";
import { type Runtime, setRuntime, type ShutdownSignal } from "../../src/runtime/mod.ts";
import { deferred, uniqueName } from "../support/deferred.ts";

/** A runtime whose signals are raised by the test and whose exit is recorded. */
function fakeRuntime() {
  const handlers = new Map<ShutdownSignal, Set<() => void>>();
  const exits: number[] = [];
  const exited = deferred<number>();
  const runtime: Runtime = {
    ...getRuntime(),
    onSignal(signal, handler) {
      if (!handlers.has(signal)) handlers.set(signal, new Set());
      handlers.get(signal)!.add(handler);
      return () => handlers.get(signal)?.delete(handler);
    },
    exit(code) {
      exits.push(code);
      exited.resolve(code);
    },
  };
  const raise = (signal: ShutdownSignal) => {
    for (const handler of [...(handlers.get(signal) ?? [])]) handler();
  };
  const listening = (signal: ShutdownSignal) => handlers.get(signal)?.size ?? 0;
  return { runtime, raise, listening, exits, exited };
}

/** An in-memory app of a new name (from `prefix`) that logs nothing. */
function silentApp(prefix: string): QueueTasks {
  return new QueueTasks({
    name: uniqueName(prefix),
    env: false,
    config: { logsDefaultLevel: "silent" },
  });
}

test("runForever finishes running tasks on SIGTERM, then exits with code 0", async () => {
  const fake = fakeRuntime();
  setRuntime(fake.runtime);
  try {
    const app = silentApp("starter");
    const started = deferred();
    const release = deferred();
    const slow = app.task("slow", async () => {
      started.resolve();
      await release.promise;
      return "finished";
    });
    const job = await slow.addTask();
    const running = app.runForever();
    await started.promise;
    assert.equal(fake.listening("SIGTERM"), 1);
    assert.equal(fake.listening("SIGINT"), 1);
    fake.raise("SIGTERM");
    const late = await slow.addTask();
    release.resolve();
    assert.equal(await fake.exited.promise, 0);
    await running;
    assert.equal((await job.get())?.status, "success");
    assert.equal((await late.get())?.status, "new", "no task is taken after the signal");
    assert.equal(fake.listening("SIGTERM"), 0, "signal handlers are removed");
  } finally {
    setRuntime(undefined);
  }
});

test("a second signal during shutdown exits at once with code 1", async () => {
  const fake = fakeRuntime();
  setRuntime(fake.runtime);
  const release = deferred();
  try {
    const app = silentApp("starter");
    const started = deferred();
    const stuck = app.task("stuck", async () => {
      started.resolve();
      await release.promise;
    });
    await stuck.addTask();
    const running = app.runForever();
    await started.promise;
    fake.raise("SIGINT");
    fake.raise("SIGINT");
    assert.deepEqual(fake.exits, [1]);
    release.resolve();
    await running;
    assert.deepEqual(fake.exits, [1, 0]);
  } finally {
    release.resolve();
    setRuntime(undefined);
  }
});

test("the starter starts the broker chain before the worker and stops the worker first", async () => {
  const order: string[] = [];
  const app = silentApp("order");
  const broker = app.broker;
  const storage = broker.storage;
  const globalConfig = storage.globalConfig!;
  const wrap = (label: string, target: { start: unknown; stop: unknown }) => {
    const start = target.start as (...a: unknown[]) => Promise<void>;
    const stop = target.stop as (...a: unknown[]) => Promise<void>;
    target.start = async (...a: unknown[]) => {
      order.push(`${label}.start`);
      await start.apply(target, a);
    };
    target.stop = async (...a: unknown[]) => {
      order.push(`${label}.stop`);
      await stop.apply(target, a);
    };
  };
  wrap("broker", broker);
  wrap("storage", storage);
  wrap("globalConfig", globalConfig);
  wrap("worker", app.worker);
  await app.start();
  await app.stop();
  assert.deepEqual(order, [
    "broker.start",
    "storage.start",
    "globalConfig.start",
    "worker.start",
    "worker.stop",
    "broker.stop",
    "storage.stop",
    "globalConfig.stop",
  ]);
});

test("starter_start fires once every component started, and starter_stop once every one stopped", async () => {
  const app = silentApp("starter-triggers");
  const log: string[] = [];
  await app.addPlugin({
    name: "order",
    handlers: {
      starter_start: ({ appName }) => void log.push(`starter_start ${appName === app.name}`),
      starter_stop: ({ appName }) => void log.push(`starter_stop ${appName === app.name}`),
      worker_start: () => void log.push("worker_start"),
      worker_stop: () => void log.push("worker_stop"),
      qtasks_stop: () => void log.push("qtasks_stop"),
    },
  });
  await app.start();
  await app.stop();
  assert.deepEqual(log, [
    "worker_start",
    "starter_start true",
    "qtasks_stop",
    "worker_stop",
    "starter_stop true",
  ]);
});

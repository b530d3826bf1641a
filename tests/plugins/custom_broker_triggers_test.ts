/**
 * A Broker of your own gets the plugin triggers for free: a hand-written Broker (a plain object
 * around a MemoryBroker, with no plugin code, as in the Broker JSDoc) fires the broker, storage
 * and globalConfig triggers once it is given to an app. And a broker given twice (or already
 * decorated, or shared with a worker) fires each trigger once.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger, type Plugin, QueueTasks, type TriggerName } from "../../mod.ts";
import { MemoryBroker } from "../../src/backends/memory/mod.ts";
import { AsyncWorker, type Broker } from "../../src/ports/mod.ts";
import { triggeredBroker } from "../../src/engine/triggers/triggered_broker.ts";
import { uniqueName } from "../support/deferred.ts";

/** A Broker written by hand around a MemoryBroker: it knows nothing of plugins. */
function handWritten(name: string): Broker {
  const inner = new MemoryBroker({ name });
  return {
    name: inner.name,
    storage: inner.storage,
    start: (context) => inner.start(context),
    stop: () => inner.stop(),
    add: (task) => inner.add(task),
    addBulk: (tasks) => inner.addBulk(tasks),
    addFlow: (flow) => inner.addFlow(flow),
    exchange: (request) => inner.exchange(request),
    extendLeases: (workerId, leases, leaseMs) => inner.extendLeases(workerId, leases, leaseMs),
    cancel: (uuid, reason, resultTtlMs) => inner.cancel(uuid, reason, resultTtlMs),
    watchCancellations: (listener) => inner.watchCancellations(listener),
    reportProgress: (workerId, uuid, deliveries, progress) =>
      inner.reportProgress(workerId, uuid, deliveries, progress),
    waitForTasks: (timeoutMs, signal, claim) => inner.waitForTasks(timeoutMs, signal, claim),
    get: (uuid) => inner.get(uuid),
    flushAll: () => inner.flushAll(),
  };
}

/** A plugin that records the names of the triggers it hears. */
function recorder(): Plugin & { heard: TriggerName[] } {
  const heard: TriggerName[] = [];
  return { name: "recorder", heard, trigger: (name) => void heard.push(name) };
}

function app(name: string, broker: Broker, worker?: AsyncWorker): QueueTasks {
  return new QueueTasks({
    name,
    broker,
    worker,
    logger: createLogger("silent"),
    env: false,
    config: { idleWakeMs: 1_000 },
  });
}

test("a hand-written Broker fires the broker, storage and globalConfig triggers through the app", async () => {
  const name = uniqueName("custom-broker");
  const queue = app(name, handWritten(name));
  const rec = recorder();
  await queue.addPlugin(rec);
  await queue.addPlugin({
    name: "tenant",
    handlers: { storage_add: ({ extra }) => ({ extra: { ...extra, tenant: "acme" } }) },
  }, { component: "storage" });
  const add = queue.task("add", (a: number, b: number) => a + b);
  try {
    await queue.start();
    const job = await add.addTask(1, 2);
    assert.equal(await job.value({ timeoutMs: 10_000 }), 3);
    assert.equal((await queue.get(job.uuid))?.extra.tenant, "acme", "storage_add replaced it");
    await queue.broker.storage.globalConfig?.set("limits", "mail", "5");
    await queue.broker.storage.getAll();
  } finally {
    await queue.flushAll();
    await queue.stop();
  }
  const heard = new Set(rec.heard);
  for (
    const name of [
      "global_config_start",
      "global_config_set_status",
      "storage_start",
      "broker_start",
      "broker_listen_start",
      "broker_add_before",
      "storage_add",
      "broker_add_after",
      "storage_add_process",
      "broker_add_worker",
      "broker_remove_finished_task",
      "storage_update",
      "storage_remove_finished_task",
      "storage_get",
      "broker_get",
      "global_config_set",
      "storage_get_all",
      "storage_flush_all",
      "broker_flush_all",
      "broker_stop",
      "storage_stop",
      "global_config_stop",
    ] as const
  ) {
    assert.ok(heard.has(name), `the plugin heard ${name}`);
  }
  const order = (names: TriggerName[]) => rec.heard.filter((name) => names.includes(name));
  assert.deepEqual(order(["broker_add_before", "storage_add", "broker_add_after"]), [
    "broker_add_before",
    "storage_add",
    "broker_add_after",
  ]);
  assert.deepEqual(order(["global_config_start", "storage_start", "broker_start"]), [
    "global_config_start",
    "storage_start",
    "broker_start",
  ]);
  assert.deepEqual(order(["broker_stop", "storage_stop", "global_config_stop"]), [
    "broker_stop",
    "storage_stop",
    "global_config_stop",
  ]);
});

test("a broker decorated already, and shared with its worker, fires each trigger once", async () => {
  const name = uniqueName("custom-broker");
  const broker = new MemoryBroker({ name });
  assert.equal(triggeredBroker(broker), broker, "decorated in place: the same object");
  assert.equal(triggeredBroker(broker), broker, "decorating it again changes nothing");
  const queue = app(name, broker, new AsyncWorker({ broker }));
  assert.equal(queue.broker, broker);
  const rec = recorder();
  await queue.addPlugin(rec, {
    triggers: [
      "broker_start",
      "broker_add_before",
      "storage_add",
      "storage_add_process",
      "broker_add_worker",
      "storage_get",
      "broker_get",
    ],
  });
  try {
    await queue.start();
    const job = await queue.task("noop", () => null).addTask();
    await job.value({ timeoutMs: 10_000 });
    await queue.broker.get(job.uuid);
  } finally {
    await queue.flushAll();
    await queue.stop();
  }
  assert.deepEqual(rec.heard, [
    "broker_start",
    "broker_add_before",
    "storage_add",
    "storage_add_process",
    "broker_add_worker",
    "storage_get",
    "broker_get",
  ]);
});

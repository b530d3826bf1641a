/**
 * The shared suite of the broker_*, storage_* and global_config_* plugin triggers: every
 * backend fires each of them at the same point, with the documented arguments, and applies what
 * a plugin returns. component_triggers_memory_test.ts and component_triggers_redis_test.ts run it.
 *
 * Most tests drive the components directly, started with a context that carries a PluginHub;
 * the ones about what a worker or a producer sees go through QueueTasks and `app.addPlugin`.
 * Each test uses a fresh app name and always flushes and stops what it started.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  createLogger,
  parseQueueConfig,
  type Plugin,
  type QueueConfigInput,
  QueueTasks,
  type TriggerArgs,
  type TriggerName,
} from "../../mod.ts";
import {
  type Broker,
  type ClaimedTask,
  type ComponentContext,
  type ExchangeRequest,
  type ExchangeResult,
  type GlobalConfig,
  type NewTask,
  type PluginComponent,
  PluginHub,
  type Settlement,
} from "../../src/ports/mod.ts";
import { deferred, uniqueName } from "../support/deferred.ts";

/** How a backend plugs into the suite. */
export interface ComponentTriggersOptions {
  /** Moves the broker's clock forward (memory); without it, tests wait for leases to expire. */
  advanceClock?: (broker: Broker, ms: number) => void;
  /** Whether the GlobalConfig writes periodic heartbeats (Redis), each one a set_status. */
  periodicHeartbeat?: boolean;
}

/** One trigger heard by a recording plugin. */
interface Heard {
  name: TriggerName;
  args: TriggerArgs<TriggerName>;
}

/** A plugin that records every trigger it hears (and returns nothing). */
function recorder(name = "recorder"): Plugin & { heard: Heard[]; names(): TriggerName[] } {
  const heard: Heard[] = [];
  return {
    name,
    heard,
    names: () => heard.map((entry) => entry.name),
    trigger(trigger, args) {
      heard.push({ name: trigger, args });
    },
  };
}

function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return {
    uuid: crypto.randomUUID(),
    taskName: "triggers.add",
    priority: 0,
    args: "[1,2]",
    kwargs: "{}",
    extra: {},
    ...overrides,
  };
}

function exchangeRequest(overrides: Partial<ExchangeRequest> = {}): ExchangeRequest {
  return {
    workerId: "worker-t",
    settlements: [],
    want: 0,
    leaseMs: 30_000,
    resultTtlMs: 60_000,
    maxDeliveries: 5,
    recoverLimit: 100,
    ...overrides,
  };
}

function globalConfigOf(broker: Broker): GlobalConfig {
  const globalConfig = broker.storage.globalConfig;
  assert.ok(globalConfig, "the storage should have a GlobalConfig");
  return globalConfig;
}

/**
 * Registers the trigger tests of one backend.
 *
 * @param label The backend, first word of every test name (`memory`).
 * @param makeBroker Makes a new, unstarted broker (with Storage and GlobalConfig) for app `name`.
 * @param options Hooks of the backend.
 */
export function componentTriggers(
  label: string,
  makeBroker: (name: string) => Broker,
  options: ComponentTriggersOptions = {},
): void {
  const it = (name: string, fn: () => Promise<void>) => test(`${label}: ${name}`, fn);

  /**
   * Runs `body` with a broker started with a context carrying `hub` (plugins are added to it by
   * `body`, or before through `setup`); always flushes and stops it.
   */
  async function withBroker(
    body: (broker: Broker, hub: PluginHub) => Promise<void>,
    setup: { config?: QueueConfigInput; plugins?: Array<[Plugin, PluginComponent?]> } = {},
  ): Promise<void> {
    const appName = uniqueName("triggers");
    const broker = makeBroker(appName);
    const logger = createLogger("silent");
    const hub = new PluginHub(logger);
    for (const [plugin, component] of setup.plugins ?? []) await hub.add(plugin, { component });
    const context: ComponentContext = {
      config: parseQueueConfig(setup.config ?? {}),
      logger,
      appName,
      plugins: hub,
    };
    try {
      await broker.start(context);
      await body(broker, hub);
    } finally {
      try {
        await broker.flushAll();
      } finally {
        await broker.stop();
      }
    }
  }

  /**
   * Runs `body` with a QueueTasks app on a new broker, not started; `body` may start it. Stops
   * it at the end, after a flush (unless `body` stopped it: then `stop` flushed first).
   */
  async function withApp(
    body: (app: QueueTasks, stop: () => Promise<void>) => Promise<void>,
  ): Promise<void> {
    const name = uniqueName("triggers");
    const app = new QueueTasks({
      name,
      broker: makeBroker(name),
      logger: createLogger("silent"),
      env: false,
      config: { idleWakeMs: 1_000 },
    });
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      try {
        await app.flushAll();
      } finally {
        await app.stop();
      }
    };
    try {
      await body(app, stop);
    } finally {
      await stop();
    }
  }

  /** Claims `task` (added first) for worker-t and returns the claim. */
  async function claim(broker: Broker, task: NewTask): Promise<ClaimedTask> {
    await broker.add(task);
    const result = await broker.exchange(exchangeRequest({ want: 1 }));
    assert.equal(result.claimed.length, 1);
    return result.claimed[0];
  }

  /** Exchanges until leases have expired and some were recovered. */
  async function recoverExpired(broker: Broker, request: ExchangeRequest): Promise<ExchangeResult> {
    if (options.advanceClock) {
      options.advanceClock(broker, request.leaseMs + 1_000);
      return await broker.exchange(request);
    }
    const deadline = Date.now() + 5_000;
    const signal = new AbortController().signal;
    for (;;) {
      const result = await broker.exchange(request);
      if (result.recovered > 0) return result;
      assert.ok(Date.now() < deadline, "the short lease should expire");
      await broker.waitForTasks(20, signal); // blocks until the timeout: the queue is empty
    }
  }

  it("a producer that never starts fires the broker, storage and globalConfig triggers of what it does", () =>
    withApp(async (app) => {
      const rec = recorder();
      await app.addPlugin(rec, {
        triggers: [
          "global_config_set",
          "broker_add_before",
          "storage_add",
          "broker_add_after",
          "storage_get",
        ],
      });
      await app.addPlugin({
        name: "tenant",
        handlers: { storage_add: ({ extra }) => ({ extra: { ...extra, tenant: "acme" } }) },
      }, { component: "storage" });
      await app.broker.storage.globalConfig?.set("limits", "mail", "5");
      app.task("triggers.producer", (n: number) => n);
      const job = await app.addTask("triggers.producer", [1]); // app.start() is never called
      const record = await app.broker.storage.get(job.uuid);
      assert.equal(record?.extra.tenant, "acme", "storage_add replaced the extra fields");
      assert.deepEqual(rec.names(), [
        "global_config_set",
        "broker_add_before",
        "storage_add",
        "broker_add_after",
        "storage_get",
      ]);
    }));

  // ── lifecycle ───────────────────────────────────────────────────────────────────────────────

  it("start fires global_config_start, storage_start, broker_start in that order, each after its component's plugins started, and stop fires them in reverse", () =>
    withApp(async (app, stop) => {
      const log: string[] = [];
      const lifecycle: TriggerName[] = [
        "global_config_start",
        "storage_start",
        "broker_start",
        "broker_stop",
        "storage_stop",
        "global_config_stop",
      ];
      const plugin = (name: string): Plugin => ({
        name,
        start: () => void log.push(`${name} start`),
        stop: () => void log.push(`${name} stop`),
        trigger: (trigger) => void log.push(`${name} ${trigger}`),
      });
      await app.addPlugin(plugin("app"), { triggers: lifecycle });
      for (const component of ["globalConfig", "storage", "broker"] as const) {
        await app.addPlugin(plugin(component), { component, triggers: lifecycle });
      }
      await app.start();
      await stop();
      assert.deepEqual(log, [
        "app start",
        "globalConfig start",
        "app global_config_start",
        "globalConfig global_config_start",
        "storage start",
        "app storage_start",
        "storage storage_start",
        "broker start",
        "app broker_start",
        "broker broker_start",
        "app broker_stop",
        "broker broker_stop",
        "broker stop",
        "app storage_stop",
        "storage storage_stop",
        "storage stop",
        "app global_config_stop",
        "globalConfig global_config_stop",
        "globalConfig stop",
        "app stop",
      ]);
    }));

  it("a plugin attached to a component hears only that component's triggers", () =>
    withApp(async (app, stop) => {
      const plugins = {
        broker: recorder("broker"),
        storage: recorder("storage"),
        globalConfig: recorder("globalConfig"),
      };
      const everything = recorder("app");
      await app.addPlugin(everything);
      for (const [component, plugin] of Object.entries(plugins)) {
        await app.addPlugin(plugin, { component: component as PluginComponent });
      }
      const add = app.task("add", (a: number, b: number) => a + b);
      await app.start();
      const job = await add.addTask(1, 2);
      assert.equal(await job.value({ timeoutMs: 10_000 }), 3);
      await app.get(job.uuid);
      await app.broker.storage.getAll();
      await globalConfigOf(app.broker).set("limits", "email", "1");
      await stop();

      const prefixes = { broker: "broker_", storage: "storage_", globalConfig: "global_config_" };
      for (const [component, plugin] of Object.entries(plugins)) {
        const prefix = prefixes[component as keyof typeof prefixes];
        assert.ok(plugin.heard.length > 0, `the ${component} plugin heard something`);
        for (const name of plugin.names()) {
          assert.ok(name.startsWith(prefix), `the ${component} plugin heard ${name}`);
        }
      }
      // The app plugin heard all of them, and the app's and the worker's own.
      const all = new Set(everything.names());
      for (const plugin of Object.values(plugins)) {
        for (const name of plugin.names()) assert.ok(all.has(name), `the app plugin heard ${name}`);
      }
      assert.ok(all.has("qtasks_get") && all.has("worker_start"));
    }));

  // ── add ─────────────────────────────────────────────────────────────────────────────────────

  it("add and addBulk fire broker_add_before, storage_add and broker_add_after for each task, in that order", () => {
    const spy = recorder();
    return withBroker(async (broker) => {
      const one = newTask({ extra: { source: "one" } });
      const bulk = [newTask(), newTask({ priority: 2 })];
      spy.heard.length = 0; // broker_start and storage_start
      await broker.add(one);
      await broker.addBulk(bulk);
      assert.deepEqual(spy.names(), [
        "broker_add_before",
        "storage_add",
        "broker_add_after",
        "broker_add_before",
        "storage_add",
        "broker_add_before",
        "storage_add",
        "broker_add_after",
        "broker_add_after",
      ]);
      const appName = broker.name;
      assert.deepEqual(spy.heard[0].args, { appName, task: one });
      assert.deepEqual(spy.heard[1].args, {
        appName,
        uuid: one.uuid,
        taskName: one.taskName,
        extra: { source: "one" },
      });
      assert.deepEqual(spy.heard[2].args, { appName, task: one });
      assert.deepEqual(
        spy.heard.filter((entry) => entry.name === "broker_add_after").map((entry) =>
          (entry.args as TriggerArgs<"broker_add_after">).task.uuid
        ),
        [one.uuid, ...bulk.map((task) => task.uuid)],
      );
    }, { plugins: [[spy, "broker"], [spy, "storage"]] });
  });

  it("broker_add_before replaces the task that is stored and queued", () =>
    withBroker(async (broker, hub) => {
      await hub.add({
        name: "rewrite",
        handlers: {
          broker_add_before: ({ task }) => ({
            task: { ...task, args: "[40,2]", priority: 3, extra: { by: "plugin" } },
          }),
        },
      });
      const task = newTask();
      await broker.add(task);
      const record = await broker.get(task.uuid);
      assert.deepEqual(record?.args, [40, 2]);
      assert.equal(record?.priority, 3);
      assert.deepEqual(record?.extra, { by: "plugin" });
      const [bulk] = [newTask()];
      await broker.addBulk([bulk]);
      assert.deepEqual((await broker.get(bulk.uuid))?.args, [40, 2]);
      const claimed = await broker.exchange(exchangeRequest({ want: 2 }));
      assert.deepEqual(claimed.claimed.map((t) => t.args), ["[40,2]", "[40,2]"]);
    }));

  it("a plugin cannot change the uuid of a task it replaces", () =>
    withBroker(async (broker, hub) => {
      const other = crypto.randomUUID();
      const after: string[] = [];
      await hub.add({
        name: "thief",
        handlers: {
          broker_add_before: ({ task }) => ({ task: { ...task, uuid: other, args: "[9]" } }),
          broker_add_after: ({ task }) => void after.push(task.uuid),
        },
      });
      const task = newTask();
      await broker.add(task);
      assert.deepEqual((await broker.get(task.uuid))?.args, [9], "the rest was replaced");
      assert.equal(await broker.get(other), undefined, "nothing under the plugin's uuid");
      assert.deepEqual(after, [task.uuid]);
    }));

  it("storage_add replaces the extra fields, which end on the record", () =>
    withBroker(async (broker, hub) => {
      await hub.add({
        name: "tagger",
        handlers: {
          storage_add: ({ extra, taskName }) => ({ extra: { ...extra, tagged: taskName } }),
        },
      }, { component: "storage" });
      const task = newTask({ extra: { source: "api" } });
      await broker.add(task);
      assert.deepEqual((await broker.get(task.uuid))?.extra, {
        source: "api",
        tagged: "triggers.add",
      });
      const bulk = newTask({ taskName: "triggers.bulk" });
      await broker.addBulk([bulk]);
      assert.deepEqual((await broker.get(bulk.uuid))?.extra, { tagged: "triggers.bulk" });
    }));

  it("broker_add_after fires once the task is stored", () =>
    withBroker(async (broker, hub) => {
      const seen: Array<string | undefined> = [];
      await hub.add({
        name: "check",
        handlers: {
          broker_add_after: async ({ task }) =>
            void seen.push((await broker.storage.get(task.uuid))?.status),
        },
      });
      await broker.add(newTask());
      await broker.addBulk([newTask(), newTask()]);
      assert.deepEqual(seen, ["new", "new", "new"]);
    }));

  // ── get, getAll, cancel, flush, deleteFinished ──────────────────────────────────────────────

  it("storage_get then broker_get may replace the record read", () =>
    withBroker(async (broker, hub) => {
      const heard: unknown[] = [];
      await hub.add({
        name: "reader",
        handlers: {
          storage_get: ({ appName, uuid, result }) => {
            heard.push(["storage_get", appName, uuid, result?.status]);
            return result ? { result: { ...result, extra: { storage: "yes" } } } : undefined;
          },
          broker_get: ({ appName, uuid, result }) => {
            heard.push(["broker_get", appName, uuid, result?.extra]);
            return result
              ? { result: { ...result, extra: { ...result.extra, broker: "yes" } } }
              : undefined;
          },
        },
      });
      const task = newTask();
      await broker.add(task);
      assert.deepEqual((await broker.get(task.uuid))?.extra, { storage: "yes", broker: "yes" });
      assert.deepEqual(heard, [
        ["storage_get", broker.name, task.uuid, "new"],
        ["broker_get", broker.name, task.uuid, { storage: "yes" }],
      ]);
      assert.deepEqual((await broker.storage.get(task.uuid))?.extra, { storage: "yes" });
      const missing = crypto.randomUUID();
      assert.equal(await broker.get(missing), undefined);
      assert.deepEqual(heard.slice(-1), [["broker_get", broker.name, missing, undefined]]);
    }));

  it("storage_get_all receives the records read and may replace them", () =>
    withBroker(async (broker, hub) => {
      const [keep, drop] = [newTask(), newTask({ taskName: "triggers.hidden" })];
      await broker.add(keep);
      await broker.add(drop);
      let heard: string[] = [];
      await hub.add({
        name: "filter",
        handlers: {
          storage_get_all: ({ appName, results }) => {
            assert.equal(appName, broker.name);
            heard = results.map((record) => record.uuid);
            return { results: results.filter((record) => record.taskName !== "triggers.hidden") };
          },
        },
      });
      const all = await broker.storage.getAll();
      assert.deepEqual(heard, [keep.uuid, drop.uuid]);
      assert.deepEqual(all.map((record) => record.uuid), [keep.uuid]);
    }));

  it("broker_update receives a cancel's uuid and reason and may replace the reason", () =>
    withBroker(async (broker, hub) => {
      const heard: unknown[] = [];
      await hub.add({
        name: "policy",
        handlers: {
          broker_update: (args) => {
            heard.push(args);
            return { reason: `policy: ${args.reason}` };
          },
        },
      });
      const task = newTask();
      await broker.add(task);
      assert.equal(await broker.cancel(task.uuid, "user", 60_000), "cancelled");
      assert.deepEqual(heard, [{ appName: broker.name, uuid: task.uuid, reason: "user" }]);
      const record = await broker.get(task.uuid);
      assert.equal(record?.status, "cancel");
      assert.equal(record?.cancelReason, "policy: user");
    }));

  it("flushAll fires storage_flush_all then broker_flush_all, once the records are gone", () =>
    withBroker(async (broker, hub) => {
      const task = newTask();
      await broker.add(task);
      const heard: unknown[] = [];
      const handler = (name: string) => async ({ appName }: { appName: string }) =>
        void heard.push([name, appName, await broker.storage.get(task.uuid)]);
      await hub.add({
        name: "flush",
        handlers: {
          storage_flush_all: handler("storage_flush_all"),
          broker_flush_all: handler("broker_flush_all"),
        },
      });
      await broker.flushAll();
      assert.deepEqual(heard, [
        ["storage_flush_all", broker.name, undefined],
        ["broker_flush_all", broker.name, undefined],
      ]);
    }));

  it("storage_delete_finished_tasks receives how many records deleteFinished deleted", () =>
    withBroker(async (broker, hub) => {
      const heard: unknown[] = [];
      await hub.add({
        name: "count",
        handlers: { storage_delete_finished_tasks: (args) => void heard.push(args) },
      });
      const [done, running] = [newTask(), newTask()];
      await broker.add(done);
      await broker.add(running);
      await broker.exchange(exchangeRequest({ want: 2 }));
      await broker.exchange(exchangeRequest({
        settlements: [{ uuid: done.uuid, deliveries: 1, status: "success", returning: "1" }],
      }));
      assert.equal(await broker.storage.deleteFinished(), 1);
      assert.equal(await broker.storage.deleteFinished(), 0);
      assert.deepEqual(heard, [
        { appName: broker.name, deleted: 1 },
        { appName: broker.name, deleted: 0 },
      ]);
    }));

  // ── exchange ────────────────────────────────────────────────────────────────────────────────

  it("broker_remove_finished_task then storage_update may replace a settlement before it is stored, not its uuid or deliveries", () =>
    withBroker(async (broker, hub) => {
      const heard: unknown[] = [];
      await hub.add({
        name: "rewrite",
        handlers: {
          broker_remove_finished_task: (args) => {
            heard.push(["broker_remove_finished_task", args]);
            return {
              settlement: {
                uuid: crypto.randomUUID(),
                deliveries: 9,
                status: "success",
                returning: '"from broker"',
              },
            };
          },
          storage_update: (args) => {
            heard.push(["storage_update", args]);
            const { settlement } = args;
            if (settlement.status !== "success") return;
            return { settlement: { ...settlement, returning: '"from storage"' } };
          },
        },
      });
      const [done, released] = [newTask(), newTask()];
      await broker.add(done);
      await broker.add(released);
      await broker.exchange(exchangeRequest({ want: 2 }));
      const settlement: Settlement = {
        uuid: done.uuid,
        deliveries: 1,
        status: "error",
        error: {
          type: "Error",
          message: "boom",
        },
      };
      const result = await broker.exchange(exchangeRequest({
        settlements: [settlement, { uuid: released.uuid, deliveries: 1, status: "release" }],
      }));
      assert.deepEqual(result.rejected, [], "the replaced settlement kept its identity");
      const appName = broker.name;
      assert.deepEqual(heard, [
        ["broker_remove_finished_task", { appName, workerId: "worker-t", settlement }],
        ["storage_update", {
          appName,
          workerId: "worker-t",
          settlement: {
            uuid: done.uuid,
            deliveries: 1,
            status: "success",
            returning: '"from broker"',
          },
        }],
      ], "a release is not a finished task");
      const record = await broker.get(done.uuid);
      assert.equal(record?.status, "success");
      assert.equal(record?.returning, "from storage");
      assert.equal((await broker.get(released.uuid))?.status, "new");
    }));

  it("storage_remove_finished_task fires for each settlement stored, not for a rejected or released one", () =>
    withBroker(async (broker, hub) => {
      const heard: unknown[] = [];
      await hub.add({
        name: "spy",
        handlers: {
          storage_update: ({ settlement }) =>
            settlement.status === "success"
              ? { settlement: { ...settlement, returning: "2" } }
              : undefined,
          storage_remove_finished_task: async (args) => {
            heard.push([args, (await broker.storage.get(args.settlement.uuid))?.status]);
          },
        },
      });
      const [ok, stale, released] = [newTask(), newTask(), newTask()];
      for (const task of [ok, stale, released]) await broker.add(task);
      await broker.exchange(exchangeRequest({ want: 3 }));
      const result = await broker.exchange(exchangeRequest({
        settlements: [
          { uuid: ok.uuid, deliveries: 1, status: "success", returning: "1" },
          { uuid: stale.uuid, deliveries: 7, status: "success", returning: "1" },
          { uuid: released.uuid, deliveries: 1, status: "release" },
        ],
      }));
      assert.deepEqual(result.rejected, [stale.uuid]);
      assert.deepEqual(heard, [[{
        appName: broker.name,
        workerId: "worker-t",
        settlement: { uuid: ok.uuid, deliveries: 1, status: "success", returning: "2" },
      }, "success"]]);
    }));

  it("broker_running_older_tasks and storage_running_older_tasks report the leases an exchange recovered", () =>
    withBroker(async (broker, hub) => {
      const spy = recorder();
      await hub.add(spy, {
        triggers: ["broker_running_older_tasks", "storage_running_older_tasks"],
      });
      const tasks = [newTask(), newTask()];
      for (const task of tasks) await broker.add(task);
      assert.equal((await broker.exchange(exchangeRequest())).recovered, 0);
      assert.deepEqual(spy.heard, [], "nothing recovered, nothing heard");
      await broker.exchange(exchangeRequest({ want: 2, leaseMs: 100 }));
      const result = await recoverExpired(broker, exchangeRequest({ workerId: "worker-r" }));
      assert.equal(result.recovered, 2);
      assert.deepEqual(spy.heard, [
        {
          name: "broker_running_older_tasks",
          args: { appName: broker.name, workerId: "worker-r", recovered: 2 },
        },
        {
          name: "storage_running_older_tasks",
          args: { appName: broker.name, workerId: "worker-r", recovered: 2 },
        },
      ]);
    }));

  it("storage_add_process then broker_add_worker may replace a claimed task, not its uuid, deliveries or isolation", () =>
    withBroker(async (broker, hub) => {
      const heard: unknown[] = [];
      await hub.add({
        name: "rewrite",
        handlers: {
          storage_add_process: (args) => {
            heard.push(["storage_add_process", args]);
            return {
              task: {
                ...args.task,
                uuid: crypto.randomUUID(),
                deliveries: 99,
                isolated: true,
                args: "[5]",
              },
            };
          },
          broker_add_worker: (args) => {
            heard.push(["broker_add_worker", args]);
            return { task: { ...args.task, kwargs: '{"k":1}' } };
          },
        },
      });
      const task = newTask();
      const claimed = await claim(broker, task);
      const original: ClaimedTask = {
        uuid: task.uuid,
        taskName: task.taskName,
        priority: 0,
        args: "[1,2]",
        kwargs: "{}",
        deliveries: 1,
        isolated: false,
        waitedMs: claimed.waitedMs,
      };
      assert.equal(typeof claimed.waitedMs, "number", "the claim says how long it waited");
      const replaced = { ...original, args: "[5]" };
      assert.deepEqual(heard, [
        ["storage_add_process", { appName: broker.name, workerId: "worker-t", task: original }],
        ["broker_add_worker", { appName: broker.name, workerId: "worker-t", task: replaced }],
      ]);
      assert.deepEqual(claimed, { ...replaced, kwargs: '{"k":1}' });
      assert.deepEqual((await broker.get(task.uuid))?.args, [1, 2], "the record is unchanged");
      // The lease is the original one: the worker settles it.
      const settled = await broker.exchange(exchangeRequest({
        settlements: [{ uuid: task.uuid, deliveries: 1, status: "success", returning: "5" }],
      }));
      assert.deepEqual(settled.rejected, []);
    }));

  it("waitForTasks with a claim runs the exchange triggers on what it claimed", () =>
    withBroker(async (broker, hub) => {
      const heard: string[] = [];
      await hub.add({
        name: "rewrite",
        handlers: {
          storage_add_process: ({ task }) => void heard.push(`storage_add_process ${task.uuid}`),
          broker_add_worker: ({ task }) => {
            heard.push(`broker_add_worker ${task.uuid}`);
            return { task: { ...task, args: "[7]" } };
          },
        },
      });
      const task = newTask();
      await broker.add(task);
      const result = await broker.waitForTasks(
        5_000,
        new AbortController().signal,
        exchangeRequest({ want: 1 }),
      );
      assert.deepEqual(result?.claimed.map((t) => [t.uuid, t.args]), [[task.uuid, "[7]"]]);
      assert.deepEqual(heard, [
        `storage_add_process ${task.uuid}`,
        `broker_add_worker ${task.uuid}`,
      ]);
    }));

  it("broker_listen_start fires once when a worker starts listening", () =>
    withApp(async (app, stop) => {
      const spy = recorder();
      await app.addPlugin(spy, { component: "broker", triggers: ["broker_listen_start"] });
      await app.start();
      assert.deepEqual(spy.heard, [{ name: "broker_listen_start", args: { appName: app.name } }]);
      const listening = await app.broker.watchCancellations(() => {});
      listening();
      assert.equal(spy.heard.length, 2, "each call listens anew");
      await stop();
      assert.equal(spy.heard.length, 2, "stopping listens no more");
    }));

  it("broker_add_worker replacing a claimed task's arguments reaches the task function", () =>
    withApp(async (app) => {
      const add = app.task("add", (a: number, b: number) => a + b);
      await app.addPlugin({
        name: "double",
        handlers: {
          broker_add_worker: ({ task }) => {
            const [a, b] = JSON.parse(task.args) as [number, number];
            return { task: { ...task, args: JSON.stringify([a * 10, b * 10]) } };
          },
        },
      }, { component: "broker" });
      await app.start();
      const job = await add.addTask(1, 2);
      assert.equal(await job.value({ timeoutMs: 10_000 }), 30);
      assert.deepEqual((await app.get(job.uuid))?.args, [1, 2], "the record keeps what was sent");
    }));

  it("broker_remove_finished_task replacing a success by another returning value is what get() returns", () =>
    withApp(async (app) => {
      const answer = app.task("answer", () => 41);
      await app.addPlugin({
        name: "fix",
        handlers: {
          broker_remove_finished_task: ({ settlement }) =>
            settlement.status === "success"
              ? { settlement: { ...settlement, returning: JSON.stringify({ fixed: 42 }) } }
              : undefined,
        },
      }, { component: "broker" });
      await app.start();
      const job = await answer.addTask();
      assert.deepEqual(await job.value({ timeoutMs: 10_000 }), { fixed: 42 });
      const record = await app.get(job.uuid);
      assert.equal(record?.status, "success");
      assert.deepEqual(record?.returning, { fixed: 42 });
    }));

  // ── globalConfig ────────────────────────────────────────────────────────────────────────────

  it("global_config_set may replace the group, key and value before they are stored", () =>
    withBroker(async (broker, hub) => {
      const heard: unknown[] = [];
      await hub.add({
        name: "namespacing",
        handlers: {
          global_config_set: (args) => {
            heard.push(args);
            return {
              name: `ns-${args.name}`,
              key: args.key.toUpperCase(),
              value: `${args.value}!`,
            };
          },
        },
      }, { component: "globalConfig" });
      const globalConfig = globalConfigOf(broker);
      await globalConfig.set("limits", "email", "100");
      assert.deepEqual(heard, [{
        appName: broker.name,
        name: "limits",
        key: "email",
        value: "100",
      }]);
      assert.equal(await globalConfig.get("ns-limits", "EMAIL"), "100!");
      assert.deepEqual(await globalConfig.getAll("limits"), {});
    }));

  it("global_config_get, global_config_get_all and global_config_get_match may replace what they read", () =>
    withBroker(async (broker, hub) => {
      const globalConfig = globalConfigOf(broker);
      await globalConfig.set("limits", "email", "100");
      await globalConfig.set("limits", "sms", "5");
      const heard: unknown[] = [];
      await hub.add({
        name: "override",
        handlers: {
          global_config_get: (args) => {
            heard.push(args);
            return { result: args.result === undefined ? "default" : `${args.result}0` };
          },
          global_config_get_all: (args) => {
            heard.push(args);
            return { result: { ...args.result, added: "1" } };
          },
          global_config_get_match: (args) => {
            heard.push(args);
            return { result: { ...args.result, matched: "yes" } };
          },
        },
      });
      const appName = broker.name;
      assert.equal(await globalConfig.get("limits", "email"), "1000");
      assert.equal(await globalConfig.get("limits", "push"), "default");
      assert.deepEqual(await globalConfig.getAll("limits"), { email: "100", sms: "5", added: "1" });
      assert.deepEqual(await globalConfig.getMatch("limits", "e*"), {
        email: "100",
        matched: "yes",
      });
      assert.deepEqual(heard, [
        { appName, name: "limits", key: "email", result: "100" },
        { appName, name: "limits", key: "push", result: undefined },
        { appName, name: "limits", result: { email: "100", sms: "5" } },
        { appName, name: "limits", pattern: "e*", result: { email: "100" } },
      ]);
    }));

  it("global_config_set_status reports running when the heartbeat is written and stopped when it is removed", async () => {
    const log: string[] = [];
    const second = deferred();
    const spy: Plugin = {
      name: "status",
      start: () => void log.push("start"),
      stop: () => void log.push("stop"),
      handlers: {
        global_config_set_status: ({ status }) => {
          log.push(status);
          if (log.filter((entry) => entry === "running").length === 2) second.resolve();
        },
      },
    };
    const config: QueueConfigInput = options.periodicHeartbeat
      ? { globalConfigStatusSetPeriodicMs: 100, globalConfigStatusTtlMs: 1_000 }
      : {};
    let broker: Broker | undefined;
    await withBroker(async (started) => {
      broker = started;
      assert.deepEqual(
        log.slice(0, 2),
        ["start", "running"],
        "the first heartbeat, once its plugins started",
      );
      if (options.periodicHeartbeat) await second.promise;
    }, { config, plugins: [[spy, "globalConfig"]] });
    assert.ok(broker);
    assert.equal(log.at(-2), "stopped", "the removal, heard before the plugins stop");
    assert.equal(log.at(-1), "stop");
    assert.ok(log.slice(1, -2).every((entry) => entry === "running"));
    if (options.periodicHeartbeat) assert.ok(log.length >= 5, `periodic heartbeats: ${log}`);
  });
}

import type {
  Broker,
  ComponentContext,
  ExchangeRequest,
  ExchangeResult,
  NewFlow,
  NewTask,
} from "../../ports/broker.ts";
import { ComponentPlugins } from "./_component_plugins.ts";
import {
  addAll,
  addHeard,
  afterAdd,
  afterExchange,
  beforeAdd,
  beforeExchange,
  exchangeHeard,
} from "./_broker_triggers.ts";
import { decorate } from "./_decorate.ts";
import { triggeredStorage } from "./triggered_storage.ts";

/** The Brokers decorated so far: each one once. */
const decorated = new WeakSet<Broker>();

/**
 * Decorates a {@linkcode Broker}, its Storage and the Storage's GlobalConfig (see
 * {@linkcode triggeredStorage}) with the plugin triggers of the three ports: the one place they
 * fire, so an implementation fires none itself and a Broker of your own gets them all. The app
 * decorates its broker when it is created (memory, Redis or yours).
 *
 * - `attach` and `start` take the app's plugins from the context (and hand it to the Storage);
 *   `start` then starts the broker's plugins and fires `broker_start`, after the Storage's and
 *   GlobalConfig's (which the implementation starts); `stop` fires `broker_stop` and stops them,
 *   before the Storage's and GlobalConfig's.
 * - `add`, `addBulk` and `addFlow`: `broker_add_before` and `storage_add` for each task before
 *   it is stored (they may replace it), `broker_add_after` once stored.
 * - `exchange`, and `waitForTasks` with a claim: `broker_remove_finished_task` and
 *   `storage_update` for each finished settlement before it is stored (they may replace it);
 *   afterwards `storage_remove_finished_task`, the `*_running_older_tasks` pair, and
 *   `storage_add_process` and `broker_add_worker` for each claimed task (they may replace what
 *   the worker gets).
 * - `cancel` (`broker_update`), `watchCancellations` (`broker_listen_start`), `get` (`broker_get`
 *   after the Storage's `storage_get`), `flushAll` (`broker_flush_all` after the Storage's
 *   `storage_flush_all`).
 *
 * The methods are replaced on the object itself, so it keeps its identity, its class and its
 * other members: the app, a worker built on the same broker and the broker's own calls to its
 * Storage all go through them. The implementation's own calls to itself do not fire twice (an
 * exchange run by `waitForTasks` fires its triggers once). Idempotent: a broker decorated before
 * is returned as it is. A trigger no plugin hears costs one map lookup: no allocation, no await
 * (the memory enqueue and exchange stay synchronous).
 *
 * @param broker The implementation.
 * @returns The same object, decorated.
 * @throws {TypeError} When the object (or its Storage or GlobalConfig) is frozen.
 *
 * @example
 * ```ts
 * import { MemoryBroker } from "@qtasks/qtasks/memory";
 * import { triggeredBroker } from "./triggered_broker.ts";
 *
 * const broker = new MemoryBroker({ name: "demo" });
 * console.log(triggeredBroker(broker) === broker, triggeredBroker(broker) === broker); // true true
 * ```
 */
export function triggeredBroker<B extends Broker>(broker: B): B {
  if (decorated.has(broker)) return broker;
  const storage = triggeredStorage(broker.storage);
  const plugins = new ComponentPlugins("broker");
  let started = false;
  /** The exchanges `waitForTasks` fires the triggers of itself (its inner `exchange` does not). */
  const claiming = new WeakSet<ExchangeRequest>();
  decorate<Broker>(broker, `broker "${broker.name}"`, {
    attach: (attach) => (context: ComponentContext) => {
      plugins.bind(context);
      if (attach) attach(context);
      else storage.attach?.(context);
    },
    start: (start) => async (context: ComponentContext) => {
      plugins.bind(context);
      await start(context);
      started = true;
      await plugins.started("broker_start");
    },
    stop: (stop) => async () => {
      if (started) {
        started = false;
        await plugins.stopping("broker_stop");
      }
      await stop();
    },
    add: (add) => (task: NewTask) => {
      if (!addHeard(plugins)) return add(task);
      return (async () => {
        const stored = await beforeAdd(plugins, task);
        const outcome = await add(stored);
        // A deduplicated add stored nothing: no broker_add_after.
        if (!outcome) await afterAdd(plugins, stored);
        return outcome;
      })();
    },
    addBulk: (addBulk) => (tasks: NewTask[]) =>
      addHeard(plugins) ? addAll(plugins, tasks, addBulk) : addBulk(tasks),
    addFlow: (addFlow) => (flow: NewFlow) =>
      addHeard(plugins)
        ? addAll(plugins, flow.tasks, (tasks) => addFlow({ ...flow, tasks }))
        : addFlow(flow),
    exchange: (exchange) => (request: ExchangeRequest) => {
      if (!exchangeHeard(plugins) || claiming.has(request)) return exchange(request);
      return (async () => {
        const sent = await beforeExchange(plugins, request);
        return await afterExchange(plugins, sent, await exchange(sent));
      })();
    },
    waitForTasks: (waitForTasks) => (timeoutMs, signal, claim?: ExchangeRequest) => {
      if (claim === undefined || !exchangeHeard(plugins)) {
        return waitForTasks(timeoutMs, signal, claim);
      }
      return (async (): Promise<ExchangeResult | undefined> => {
        // A copy of its own, so that only this claim skips the triggers in `exchange`.
        const sent = { ...await beforeExchange(plugins, claim) };
        claiming.add(sent);
        try {
          const result = await waitForTasks(timeoutMs, signal, sent);
          return result && await afterExchange(plugins, sent, result);
        } finally {
          claiming.delete(sent);
        }
      })();
    },
    cancel: (cancel) => (uuid: string, reason: string, resultTtlMs: number) => {
      if (!plugins.listens("broker_update")) return cancel(uuid, reason, resultTtlMs);
      return plugins.fire("broker_update", { uuid, reason })
        .then((args) => cancel(uuid, args.reason, resultTtlMs));
    },
    watchCancellations: (watch) => async (listener: (uuid: string, reason: string) => void) => {
      const remove = await watch(listener);
      if (plugins.listens("broker_listen_start")) await plugins.fire("broker_listen_start", {});
      return remove;
    },
    get: (get) => (uuid: string) => {
      const read = get(uuid);
      if (!plugins.listens("broker_get")) return read;
      return read.then(async (result) =>
        (await plugins.fire("broker_get", { uuid, result })).result
      );
    },
    flushAll: (flushAll) => async () => {
      await flushAll();
      if (plugins.listens("broker_flush_all")) await plugins.fire("broker_flush_all", {});
    },
  });
  decorated.add(broker);
  return broker;
}

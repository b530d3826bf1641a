import type {
  Broker,
  CancelOutcome,
  ComponentContext,
  ExchangeRequest,
  ExchangeResult,
  NewFlow,
  NewTask,
} from "../../ports/broker.ts";
import type { TaskRecord } from "../../model/task_record.ts";
import { ComponentPlugins } from "./component_plugins.ts";
import {
  addAll,
  addHeard,
  afterAdd,
  afterExchange,
  beforeAdd,
  beforeExchange,
  exchangeHeard,
} from "./_broker_triggers.ts";
import { delegate } from "./_delegate.ts";
import { StorageTriggers } from "./triggered_storage.ts";

/** Each implementation's decorator, under the implementation and under its stand-in. */
const decorators = new WeakMap<object, BrokerTriggers>();

/**
 * The decorator of a {@linkcode Broker}: the one place that fires the `broker_*` triggers, and
 * the `storage_*` ones of what a broker writes into its Storage (`storage_add` on enqueue;
 * `storage_update`, `storage_remove_finished_task`, `storage_add_process`,
 * `storage_running_older_tasks` around an exchange), around the implementation's calls. Its
 * stand-in's `storage` is the decorated Storage, whose `globalConfig` is the decorated
 * GlobalConfig; starting and stopping the stand-in fires the lifecycle triggers of all three.
 * The implementation's own calls (its Storage, its `exchange` from `waitForTasks`) reach the
 * undecorated components, so each trigger fires once. Users get the stand-in through
 * {@linkcode triggeredBroker}.
 *
 * @example
 * ```ts
 * import { MemoryBroker } from "@qtasks/qtasks";
 * import { BrokerTriggers } from "./triggered_broker.ts";
 *
 * const triggers = BrokerTriggers.of(new MemoryBroker());
 * console.log(triggers.facade.storage === triggers.storage.facade); // true
 * ```
 */
export class BrokerTriggers {
  /** The implementation. */
  readonly inner: Broker;
  /** What users call: the implementation with its port methods decorated. */
  readonly facade: Broker;
  /** The decorator of its Storage. */
  readonly storage: StorageTriggers;
  #plugins = new ComponentPlugins("broker");
  #started = false;

  /**
   * The decorator of `broker` (made once per implementation; given a stand-in, the decorator
   * that made it).
   *
   * @param broker An implementation, or a stand-in made by a decorator.
   * @returns Its decorator.
   */
  static of(broker: Broker): BrokerTriggers {
    let triggers = decorators.get(broker);
    if (!triggers) {
      triggers = new BrokerTriggers(broker);
      decorators.set(broker, triggers);
      decorators.set(triggers.facade, triggers);
    }
    return triggers;
  }

  private constructor(inner: Broker) {
    this.inner = inner;
    this.storage = StorageTriggers.of(inner.storage);
    const plugins = this.#plugins;
    const storage = this.storage;
    this.facade = delegate(inner, {
      storage: storage.facade,
      attach: (context: ComponentContext): void => {
        this.#bind(context);
        inner.attach?.(context);
      },
      start: async (context: ComponentContext): Promise<void> => {
        this.#bind(context);
        await inner.start(context);
        await storage.started();
        this.#started = true;
        await plugins.started("broker_start");
      },
      stop: async (): Promise<void> => {
        if (this.#started) {
          this.#started = false;
          await plugins.stopping("broker_stop");
        }
        await storage.stopping();
        await inner.stop();
      },
      add: (task: NewTask): Promise<void> => addHeard(plugins) ? this.#add(task) : inner.add(task),
      addBulk: (tasks: NewTask[]): Promise<void> =>
        addHeard(plugins)
          ? addAll(plugins, tasks, (prepared) => inner.addBulk(prepared))
          : inner.addBulk(tasks),
      addFlow: (flow: NewFlow): Promise<void> =>
        addHeard(plugins)
          ? addAll(plugins, flow.tasks, (tasks) => inner.addFlow({ ...flow, tasks }))
          : inner.addFlow(flow),
      exchange: (request: ExchangeRequest): Promise<ExchangeResult> =>
        exchangeHeard(plugins) ? this.#exchange(request) : inner.exchange(request),
      waitForTasks: (
        timeoutMs: number,
        signal: AbortSignal,
        claim?: ExchangeRequest,
      ): Promise<ExchangeResult | undefined> =>
        claim !== undefined && exchangeHeard(plugins)
          ? this.#waitThenExchange(timeoutMs, signal, claim)
          : inner.waitForTasks(timeoutMs, signal, claim),
      cancel: (uuid: string, reason: string, resultTtlMs: number): Promise<CancelOutcome> => {
        if (!plugins.listens("broker_update")) return inner.cancel(uuid, reason, resultTtlMs);
        return plugins.fire("broker_update", { uuid, reason })
          .then((args) => inner.cancel(uuid, args.reason, resultTtlMs));
      },
      watchCancellations: async (
        listener: (uuid: string, reason: string) => void,
      ): Promise<() => void> => {
        const remove = await inner.watchCancellations(listener);
        if (plugins.listens("broker_listen_start")) await plugins.fire("broker_listen_start", {});
        return remove;
      },
      get: (uuid: string): Promise<TaskRecord | undefined> => {
        const read = storage.afterGet(uuid, inner.get(uuid));
        if (!plugins.listens("broker_get")) return read;
        return read.then(async (result) =>
          (await plugins.fire("broker_get", { uuid, result })).result
        );
      },
      flushAll: async (): Promise<void> => {
        await inner.flushAll();
        await storage.flushed();
        if (plugins.listens("broker_flush_all")) await plugins.fire("broker_flush_all", {});
      },
    });
  }

  /** Takes the app's plugins and name, for the broker, its Storage and its GlobalConfig. */
  #bind(context: ComponentContext): void {
    this.#plugins.bind(context);
    this.storage.bind(context);
  }

  async #add(task: NewTask): Promise<void> {
    const stored = await beforeAdd(this.#plugins, task);
    await this.inner.add(stored);
    await afterAdd(this.#plugins, stored);
  }

  async #exchange(request: ExchangeRequest): Promise<ExchangeResult> {
    const sent = await beforeExchange(this.#plugins, request);
    return await afterExchange(this.#plugins, sent, await this.inner.exchange(sent));
  }

  async #waitThenExchange(
    timeoutMs: number,
    signal: AbortSignal,
    claim: ExchangeRequest,
  ): Promise<ExchangeResult | undefined> {
    const sent = await beforeExchange(this.#plugins, claim);
    const result = await this.inner.waitForTasks(timeoutMs, signal, sent);
    return result && await afterExchange(this.#plugins, sent, result);
  }
}

/**
 * Decorates a {@linkcode Broker} with the plugin triggers of the three ports: returns the
 * stand-in that fires the `broker_*` triggers, and the `storage_*` and `global_config_*` ones
 * through its `storage` (see {@linkcode BrokerTriggers}), around the implementation's calls. An
 * implementation fires no trigger itself: a Broker of your own gets them all. The app decorates
 * its broker when it is created, and so do a worker and a starter theirs; idempotent (a stand-in,
 * or a broker decorated before, gives the same stand-in), so no trigger ever fires twice. The
 * stand-in is still an instance of the implementation's class, with its fields and other methods;
 * when no plugin hears a trigger, a call costs a map lookup more, no allocation and no await.
 *
 * @param broker The implementation (or a stand-in).
 * @returns The stand-in.
 *
 * @example
 * ```ts
 * import { MemoryBroker } from "@qtasks/qtasks";
 * import { triggeredBroker } from "./triggered_broker.ts";
 *
 * const inner = new MemoryBroker({ name: "demo" });
 * const broker = triggeredBroker(inner);
 * console.log(broker instanceof MemoryBroker, triggeredBroker(broker) === broker); // true true
 * console.log(triggeredBroker(inner) === broker, broker.storage === inner.storage); // true false
 * ```
 */
export function triggeredBroker<B extends Broker>(broker: B): B {
  return BrokerTriggers.of(broker).facade as B;
}

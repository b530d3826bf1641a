import type { ComponentContext } from "../../ports/component_context.ts";
import type { GetAllOptions, Storage } from "../../ports/storage.ts";
import type { TaskRecord } from "../../model/task_record.ts";
import { ComponentPlugins } from "./component_plugins.ts";
import { delegate } from "./_delegate.ts";
import { GlobalConfigTriggers } from "./triggered_global_config.ts";

/** Each implementation's decorator, under the implementation and under its stand-in. */
const decorators = new WeakMap<object, StorageTriggers>();

/**
 * The decorator of a {@linkcode Storage}: it fires the `storage_*` triggers of the Storage's own
 * calls (`get`, `getAll`, `deleteFinished`, `flushAll`, start and stop) around the
 * implementation's, and its stand-in's `globalConfig` is the decorated GlobalConfig. The
 * triggers of what a Broker writes into it (`storage_add`, `storage_update`, …) are the Broker
 * decorator's. Users get its stand-in through {@linkcode triggeredStorage}; a Broker's decorator
 * starts and stops it through {@linkcode StorageTriggers.started} and
 * {@linkcode StorageTriggers.stopping}.
 *
 * @example
 * ```ts
 * import { MemoryGlobalConfig, MemoryStorage } from "@qtasks/qtasks";
 * import { StorageTriggers } from "./triggered_storage.ts";
 *
 * const triggers = StorageTriggers.of(new MemoryStorage({ globalConfig: new MemoryGlobalConfig() }));
 * console.log(triggers.globalConfig?.facade === triggers.facade.globalConfig); // true
 * ```
 */
export class StorageTriggers {
  /** The implementation. */
  readonly inner: Storage;
  /** What users call: the implementation with its port methods decorated. */
  readonly facade: Storage;
  /** The decorator of its GlobalConfig, if it has one. */
  readonly globalConfig: GlobalConfigTriggers | undefined;
  #plugins = new ComponentPlugins("storage");
  #started = false;

  /**
   * The decorator of `storage` (made once per implementation; given a stand-in, the decorator
   * that made it).
   *
   * @param storage An implementation, or a stand-in made by a decorator.
   * @returns Its decorator.
   */
  static of(storage: Storage): StorageTriggers {
    let triggers = decorators.get(storage);
    if (!triggers) {
      triggers = new StorageTriggers(storage);
      decorators.set(storage, triggers);
      decorators.set(triggers.facade, triggers);
    }
    return triggers;
  }

  private constructor(inner: Storage) {
    this.inner = inner;
    this.globalConfig = inner.globalConfig && GlobalConfigTriggers.of(inner.globalConfig);
    const plugins = this.#plugins;
    this.facade = delegate(inner, {
      globalConfig: this.globalConfig?.facade,
      attach: (context: ComponentContext): void => {
        this.bind(context);
        inner.attach?.(context);
      },
      start: async (context: ComponentContext): Promise<void> => {
        this.bind(context);
        await inner.start(context);
        await this.started();
      },
      stop: async (): Promise<void> => {
        await this.stopping();
        await inner.stop();
      },
      get: (uuid: string): Promise<TaskRecord | undefined> => this.afterGet(uuid, inner.get(uuid)),
      getAll: (options?: GetAllOptions): Promise<TaskRecord[]> => {
        const read = inner.getAll(options);
        if (!plugins.listens("storage_get_all")) return read;
        return read.then(async (results) =>
          (await plugins.fire("storage_get_all", { results })).results
        );
      },
      deleteFinished: async (): Promise<number> => {
        const deleted = await inner.deleteFinished();
        if (plugins.listens("storage_delete_finished_tasks")) {
          await plugins.fire("storage_delete_finished_tasks", { deleted });
        }
        return deleted;
      },
      flushAll: async (): Promise<void> => {
        await inner.flushAll();
        await this.flushed();
      },
    });
  }

  /** Takes the app's plugins and name from `context`, and so does its GlobalConfig's decorator. */
  bind(context: ComponentContext): void {
    this.#plugins.bind(context);
    this.globalConfig?.bind(context);
  }

  /**
   * The implementation has started, with its GlobalConfig: runs what the GlobalConfig's
   * decorator runs then, then starts the storage's plugins and runs `storage_start`.
   */
  async started(): Promise<void> {
    await this.globalConfig?.started();
    this.#started = true;
    await this.#plugins.started("storage_start");
  }

  /**
   * The implementation is about to stop, with its GlobalConfig: runs `storage_stop` and stops
   * the storage's plugins (when it was started), then what the GlobalConfig's decorator runs.
   */
  async stopping(): Promise<void> {
    if (this.#started) {
      this.#started = false;
      await this.#plugins.stopping("storage_stop");
    }
    await this.globalConfig?.stopping();
  }

  /** Runs `storage_get` on a record read (when heard): it may replace it. */
  afterGet(uuid: string, read: Promise<TaskRecord | undefined>): Promise<TaskRecord | undefined> {
    if (!this.#plugins.listens("storage_get")) return read;
    return read.then(async (result) =>
      (await this.#plugins.fire("storage_get", { uuid, result })).result
    );
  }

  /** Every record was deleted: runs `storage_flush_all`. */
  async flushed(): Promise<void> {
    if (this.#plugins.listens("storage_flush_all")) {
      await this.#plugins.fire("storage_flush_all", {});
    }
  }
}

/**
 * Decorates a {@linkcode Storage} with its plugin triggers (`storage_start`, `storage_get`,
 * `storage_get_all`, …), and its GlobalConfig with its own: returns the stand-in that fires them
 * around the implementation's calls. Idempotent: a stand-in, or an implementation decorated
 * before, gives the same stand-in, so no trigger ever fires twice. A Broker's decorator
 * decorates its Storage this way (its stand-in's `storage`).
 *
 * @param storage The implementation (or a stand-in).
 * @returns The stand-in.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "@qtasks/qtasks";
 * import { triggeredStorage } from "./triggered_storage.ts";
 *
 * const storage = triggeredStorage(new MemoryStorage({ name: "demo" }));
 * console.log(await storage.get("no-such-task")); // undefined
 * console.log(storage instanceof MemoryStorage, triggeredStorage(storage) === storage); // true true
 * ```
 */
export function triggeredStorage<S extends Storage>(storage: S): S {
  return StorageTriggers.of(storage).facade as S;
}

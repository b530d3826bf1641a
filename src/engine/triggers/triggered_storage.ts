import type { ComponentContext } from "../../ports/component_context.ts";
import type { GetAllOptions, Storage } from "../../ports/storage.ts";
import { ComponentPlugins } from "./_component_plugins.ts";
import { decorate } from "./_decorate.ts";
import { triggeredGlobalConfig } from "./triggered_global_config.ts";

/** The Storages decorated so far: each one once. */
const decorated = new WeakSet<Storage>();

/**
 * Decorates a {@linkcode Storage}, and its GlobalConfig (see
 * {@linkcode triggeredGlobalConfig}), with their plugin triggers, the one place they fire:
 * `attach` and `start` take the app's plugins from the context (and hand it to the
 * GlobalConfig); `start` then starts the storage's plugins and fires `storage_start` (after
 * the GlobalConfig's, which it starts); `stop` fires `storage_stop` and stops them (before the
 * GlobalConfig stops); `get`, `getAll`, `deleteFinished` and `flushAll` fire their triggers. The
 * triggers of what a Broker writes into it (`storage_add`, `storage_update`, …) are the Broker
 * decorator's. An implementation fires none itself.
 *
 * The methods are replaced on the object itself, so it keeps its identity, its class and its
 * other members, and the Broker that owns it calls the decorated methods. Idempotent: a Storage
 * decorated before is returned as it is, so no trigger fires twice.
 *
 * @param storage The implementation.
 * @returns The same object, decorated.
 * @throws {TypeError} When the object (or its GlobalConfig) is frozen.
 *
 * @example
 * ```ts
 * import { MemoryGlobalConfig, MemoryStorage } from "@qtasks/qtasks/memory";
 * import { triggeredStorage } from "./triggered_storage.ts";
 *
 * const storage = triggeredStorage(new MemoryStorage({ globalConfig: new MemoryGlobalConfig() }));
 * console.log(await storage.get("no-such-task")); // undefined
 * ```
 */
export function triggeredStorage<S extends Storage>(storage: S): S {
  if (decorated.has(storage)) return storage;
  const globalConfig = storage.globalConfig && triggeredGlobalConfig(storage.globalConfig);
  const plugins = new ComponentPlugins("storage");
  let started = false;
  decorate<Storage>(storage, `Storage "${storage.name}"`, {
    attach: (attach) => (context: ComponentContext) => {
      plugins.bind(context);
      if (attach) attach(context);
      else globalConfig?.attach?.(context);
    },
    start: (start) => async (context: ComponentContext) => {
      plugins.bind(context);
      await start(context);
      started = true;
      await plugins.started("storage_start");
    },
    stop: (stop) => async () => {
      if (started) {
        started = false;
        await plugins.stopping("storage_stop");
      }
      await stop();
    },
    get: (get) => (uuid: string) => {
      const read = get(uuid);
      if (!plugins.listens("storage_get")) return read;
      return read.then(async (result) =>
        (await plugins.fire("storage_get", { uuid, result })).result
      );
    },
    getAll: (getAll) => (options?: GetAllOptions) => {
      const read = getAll(options);
      if (!plugins.listens("storage_get_all")) return read;
      return read.then(async (results) =>
        (await plugins.fire("storage_get_all", { results })).results
      );
    },
    deleteFinished: (deleteFinished) => async () => {
      const deleted = await deleteFinished();
      if (plugins.listens("storage_delete_finished_tasks")) {
        await plugins.fire("storage_delete_finished_tasks", { deleted });
      }
      return deleted;
    },
    flushAll: (flushAll) => async () => {
      await flushAll();
      if (plugins.listens("storage_flush_all")) await plugins.fire("storage_flush_all", {});
    },
  });
  decorated.add(storage);
  return storage;
}

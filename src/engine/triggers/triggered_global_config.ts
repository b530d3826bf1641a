import type { ComponentContext } from "../../ports/component_context.ts";
import type { GlobalConfig } from "../../ports/global_config.ts";
import { ComponentPlugins } from "./_component_plugins.ts";
import { decorate } from "./_decorate.ts";

/** The GlobalConfigs decorated so far: each one once. */
const decorated = new WeakSet<GlobalConfig>();

/**
 * Decorates a {@linkcode GlobalConfig} with its plugin triggers, the one place they fire: its
 * `attach` and `start` take the app's plugins from the context; `start` then starts the
 * GlobalConfig's plugins and fires `global_config_start` and `global_config_set_status`
 * (`running`, and again after each periodic heartbeat the implementation reports through
 * `watchHeartbeats`); `stop` fires `global_config_set_status` (`stopped`) and
 * `global_config_stop` and stops them; `set`, `get`, `getAll` and `getMatch` fire their triggers
 * (which may replace what is stored or read). An implementation fires none itself.
 *
 * The methods are replaced on the object itself, so it keeps its identity, its class and its
 * other members. Idempotent: a GlobalConfig decorated before is returned as it is, so no trigger
 * fires twice. A trigger no plugin hears costs one map lookup: no allocation, no await.
 *
 * @param globalConfig The implementation.
 * @returns The same object, decorated.
 * @throws {TypeError} When the object is frozen.
 *
 * @example
 * ```ts
 * import { MemoryGlobalConfig } from "@qtasks/qtasks/memory";
 * import { triggeredGlobalConfig } from "./triggered_global_config.ts";
 *
 * const config = new MemoryGlobalConfig({ name: "demo" });
 * console.log(triggeredGlobalConfig(config) === config); // true
 * await config.set("limits", "email", "100"); // no plugins: just stored
 * ```
 */
export function triggeredGlobalConfig<G extends GlobalConfig>(globalConfig: G): G {
  if (decorated.has(globalConfig)) return globalConfig;
  const plugins = new ComponentPlugins("globalConfig");
  let started = false;
  const status = async (status: "running" | "stopped"): Promise<void> => {
    if (plugins.listens("global_config_set_status")) {
      await plugins.fire("global_config_set_status", { status });
    }
  };
  decorate<GlobalConfig>(globalConfig, `GlobalConfig "${globalConfig.name}"`, {
    attach: (attach) => (context: ComponentContext) => {
      plugins.bind(context);
      attach?.(context);
    },
    start: (start) => async (context: ComponentContext) => {
      plugins.bind(context);
      await start(context);
      started = true;
      await plugins.started("global_config_start");
      await status("running");
    },
    stop: (stop) => async () => {
      if (started) {
        started = false;
        await status("stopped");
        await plugins.stopping("global_config_stop");
      }
      await stop();
    },
    set: (set) => async (name: string, key: string, value: string) => {
      if (plugins.listens("global_config_set")) {
        ({ name, key, value } = await plugins.fire("global_config_set", { name, key, value }));
      }
      await set(name, key, value);
    },
    get: (get) => (name: string, key: string) => {
      const read = get(name, key);
      if (!plugins.listens("global_config_get")) return read;
      return read.then(async (result) =>
        (await plugins.fire("global_config_get", { name, key, result })).result
      );
    },
    getAll: (getAll) => (name: string) => {
      const read = getAll(name);
      if (!plugins.listens("global_config_get_all")) return read;
      return read.then(async (result) =>
        (await plugins.fire("global_config_get_all", { name, result })).result
      );
    },
    getMatch: (getMatch) => (name: string, pattern: string) => {
      const read = getMatch(name, pattern);
      if (!plugins.listens("global_config_get_match")) return read;
      return read.then(async (result) =>
        (await plugins.fire("global_config_get_match", { name, pattern, result })).result
      );
    },
  });
  // Each periodic heartbeat the implementation writes is a `global_config_set_status`.
  globalConfig.watchHeartbeats?.(() => {
    if (started) void status("running");
  });
  decorated.add(globalConfig);
  return globalConfig;
}

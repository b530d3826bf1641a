import type { ComponentContext } from "../../ports/component_context.ts";
import type { GlobalConfig } from "../../ports/global_config.ts";
import { ComponentPlugins } from "./component_plugins.ts";
import { delegate } from "./_delegate.ts";

/** Each implementation's decorator, under the implementation and under its stand-in. */
const decorators = new WeakMap<object, GlobalConfigTriggers>();

/**
 * The decorator of a {@linkcode GlobalConfig}: it fires the `global_config_*` triggers around
 * the implementation's calls, so an implementation fires none itself. Users get its stand-in
 * through {@linkcode triggeredGlobalConfig}; a Storage's decorator starts and stops it through
 * {@linkcode GlobalConfigTriggers.started} and {@linkcode GlobalConfigTriggers.stopping}.
 *
 * @example
 * ```ts
 * import { MemoryGlobalConfig } from "@qtasks/qtasks";
 * import { GlobalConfigTriggers } from "./triggered_global_config.ts";
 *
 * const triggers = GlobalConfigTriggers.of(new MemoryGlobalConfig());
 * console.log(GlobalConfigTriggers.of(triggers.facade) === triggers); // true
 * ```
 */
export class GlobalConfigTriggers {
  /** The implementation. */
  readonly inner: GlobalConfig;
  /** What users call: the implementation with its port methods decorated. */
  readonly facade: GlobalConfig;
  #plugins = new ComponentPlugins("globalConfig");
  #started = false;

  /**
   * The decorator of `globalConfig` (made once per implementation; given a stand-in, the
   * decorator that made it).
   *
   * @param globalConfig An implementation, or a stand-in made by a decorator.
   * @returns Its decorator.
   */
  static of(globalConfig: GlobalConfig): GlobalConfigTriggers {
    let triggers = decorators.get(globalConfig);
    if (!triggers) {
      triggers = new GlobalConfigTriggers(globalConfig);
      decorators.set(globalConfig, triggers);
      decorators.set(triggers.facade, triggers);
    }
    return triggers;
  }

  private constructor(inner: GlobalConfig) {
    this.inner = inner;
    const plugins = this.#plugins;
    this.facade = delegate(inner, {
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
      set: async (name: string, key: string, value: string): Promise<void> => {
        if (plugins.listens("global_config_set")) {
          ({ name, key, value } = await plugins.fire("global_config_set", { name, key, value }));
        }
        await inner.set(name, key, value);
      },
      get: (name: string, key: string): Promise<string | undefined> => {
        const read = inner.get(name, key);
        if (!plugins.listens("global_config_get")) return read;
        return read.then(async (result) =>
          (await plugins.fire("global_config_get", { name, key, result })).result
        );
      },
      getAll: (name: string): Promise<Record<string, string>> => {
        const read = inner.getAll(name);
        if (!plugins.listens("global_config_get_all")) return read;
        return read.then(async (result) =>
          (await plugins.fire("global_config_get_all", { name, result })).result
        );
      },
      getMatch: (name: string, pattern: string): Promise<Record<string, string>> => {
        const read = inner.getMatch(name, pattern);
        if (!plugins.listens("global_config_get_match")) return read;
        return read.then(async (result) =>
          (await plugins.fire("global_config_get_match", { name, pattern, result })).result
        );
      },
    });
    // Each periodic heartbeat the implementation writes is a `global_config_set_status`.
    inner.watchHeartbeats?.(() => {
      if (this.#started) void this.#status("running");
    });
  }

  /** Takes the app's plugins and name from `context` (a producer that never starts needs it). */
  bind(context: ComponentContext): void {
    this.#plugins.bind(context);
  }

  /**
   * The implementation has started (written its first heartbeat): starts the GlobalConfig's
   * plugins, runs `global_config_start`, then `global_config_set_status` (`running`).
   */
  async started(): Promise<void> {
    this.#started = true;
    await this.#plugins.started("global_config_start");
    await this.#status("running");
  }

  /**
   * The implementation is about to stop (and remove its heartbeat): runs
   * `global_config_set_status` (`stopped`), then `global_config_stop`, and stops the
   * GlobalConfig's plugins. Nothing when it was not started.
   */
  async stopping(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    await this.#status("stopped");
    await this.#plugins.stopping("global_config_stop");
  }

  async #status(status: "running" | "stopped"): Promise<void> {
    if (this.#plugins.listens("global_config_set_status")) {
      await this.#plugins.run("global_config_set_status", {
        appName: this.#plugins.appName,
        status,
      });
    }
  }
}

/**
 * Decorates a {@linkcode GlobalConfig} with its plugin triggers (`global_config_start`,
 * `global_config_set`, `global_config_get`, …): returns the stand-in that fires them around the
 * implementation's calls. Idempotent: a stand-in, or an implementation decorated before, gives
 * the same stand-in, so no trigger ever fires twice. The stand-in is still an instance of the
 * implementation's class, with its fields and other methods.
 *
 * @param globalConfig The implementation (or a stand-in).
 * @returns The stand-in.
 *
 * @example
 * ```ts
 * import { MemoryGlobalConfig } from "@qtasks/qtasks";
 * import { triggeredGlobalConfig } from "./triggered_global_config.ts";
 *
 * const config = triggeredGlobalConfig(new MemoryGlobalConfig({ name: "demo" }));
 * await config.set("limits", "email", "100"); // no plugins: just stored
 * console.log(config instanceof MemoryGlobalConfig, triggeredGlobalConfig(config) === config); // true true
 * ```
 */
export function triggeredGlobalConfig<G extends GlobalConfig>(globalConfig: G): G {
  return GlobalConfigTriggers.of(globalConfig).facade as G;
}

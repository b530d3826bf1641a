import type { PluginHub } from "../../plugins/plugin_hub.ts";
import type { PluginComponent, TriggerArgs, TriggerName } from "../../plugins/triggers.ts";

/**
 * How the trigger decorators of the Broker, Storage and GlobalConfig reach the app's plugins:
 * bound to the {@linkcode ComponentContext} the component was attached or started with, it runs
 * triggers (a no-op without plugins) and starts and stops the plugins attached to its component.
 * Implementations of the ports need none of it: the decorators fire their triggers.
 *
 * @example Fire `global_config_start`
 * ```ts
 * import { createLogger } from "@qtasks/qtasks";
 * import { PluginHub } from "@qtasks/qtasks/ports";
 * import { ComponentPlugins } from "./_component_plugins.ts";
 *
 * const plugins = new ComponentPlugins("globalConfig");
 * const hub = new PluginHub(createLogger("silent"));
 * hub.add({ name: "hello", handlers: { global_config_start: ({ appName }) => console.log(appName) } });
 * plugins.bind({ appName: "shop", plugins: hub });
 * await plugins.started("global_config_start"); // logs "shop"
 * ```
 */
export class ComponentPlugins {
  /** The component whose plugins it starts and stops. */
  readonly component: PluginComponent;
  #hub: PluginHub | undefined;
  #appName = "";

  /**
   * Creates a ComponentPlugins.
   *
   * @param component The component it serves.
   */
  constructor(component: PluginComponent) {
    this.component = component;
  }

  /**
   * Takes the hub and app name from the context a component is started with (a
   * `ComponentContext`, or anything with its `plugins` and `appName`).
   */
  bind(context: { plugins?: PluginHub; appName?: string }): void {
    this.#hub = context.plugins;
    this.#appName = context.appName ?? "";
  }

  /** The app's name, as given at start (`""` before). */
  get appName(): string {
    return this.#appName;
  }

  /** Whether any plugin hears `name`: callers skip building its arguments otherwise. */
  listens(name: TriggerName): boolean {
    return this.#hub !== undefined && this.#hub.listens(name);
  }

  /** Runs trigger `name` (see {@linkcode PluginHub.run}); resolves with `args` without plugins. */
  run<N extends TriggerName>(name: N, args: TriggerArgs<N>): Promise<TriggerArgs<N>> {
    return this.#hub ? this.#hub.run(name, args) : Promise.resolve(args);
  }

  /**
   * Runs trigger `name` with `fields` and the app name when a plugin hears it, and resolves with
   * what the plugins left; without one, resolves with `fields` and the app name at once. For
   * paths where building `fields` costs nothing worth skipping (hot paths check
   * {@linkcode ComponentPlugins.listens} first).
   */
  fire<N extends TriggerName>(
    name: N,
    fields: Omit<TriggerArgs<N>, "appName">,
  ): Promise<TriggerArgs<N>> {
    const args = { ...fields, appName: this.#appName } as TriggerArgs<N>;
    return this.#hub !== undefined && this.#hub.listens(name)
      ? this.#hub.run(name, args)
      : Promise.resolve(args);
  }

  /** The component has started: starts its plugins, then runs `trigger`. */
  async started(trigger: "broker_start" | "storage_start" | "global_config_start"): Promise<void> {
    if (!this.#hub) return;
    await this.#hub.start(this.component);
    await this.#hub.run(trigger, { appName: this.#appName });
  }

  /** The component is stopping: runs `trigger`, then stops its plugins. */
  async stopping(trigger: "broker_stop" | "storage_stop" | "global_config_stop"): Promise<void> {
    if (!this.#hub) return;
    await this.#hub.run(trigger, { appName: this.#appName });
    await this.#hub.stop(this.component);
  }
}

import { TaskPluginTriggerError } from "../model/errors/task_plugin_trigger_error.ts";
import type { Logger } from "../model/logger.ts";
import type { AddPluginOptions, Plugin } from "./plugin.ts";
import { type PluginComponent, type TriggerArgs, type TriggerName, TRIGGERS } from "./triggers.ts";

interface Entry {
  plugin: Plugin;
  component: PluginComponent;
  triggers: ReadonlySet<TriggerName> | undefined;
}

const COMPONENTS: ReadonlySet<string> = new Set([
  "app",
  "worker",
  "broker",
  "storage",
  "globalConfig",
]);

/**
 * The plugins of one app, and the one place that runs triggers: in the order plugins were added,
 * each receiving the fields the previous one left, a partial return replacing only what it
 * names. A trigger nobody listens to costs one map lookup.
 *
 * @example
 * ```ts
 * import { createLogger } from "@qtasks/qtasks";
 * import { PluginHub } from "@qtasks/qtasks/ports";
 *
 * const hub = new PluginHub(createLogger("silent"));
 * hub.add({ name: "bump", handlers: { qtasks_add_task_before_broker: () => ({ priority: 9 }) } });
 * const args = { appName: "shop", taskName: "t", args: [1], priority: 0, extra: {} };
 * const after = await hub.run("qtasks_add_task_before_broker", args);
 * console.log(after.priority, after.args); // 9 [1]
 * ```
 */
export class PluginHub {
  #logger: Logger;
  #entries: Entry[] = [];
  /** Per trigger, the entries that hear it (rebuilt when a plugin is added). */
  #listeners = new Map<TriggerName, Entry[]>();
  #started = new Set<PluginComponent>();

  /**
   * Creates a PluginHub.
   *
   * @param logger Where plugin failures are logged.
   */
  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /**
   * Adds a plugin. Added to a component that has started already, it starts at once.
   *
   * @throws {TypeError} For a plugin without a name or handlers, an unknown component or trigger.
   */
  add(plugin: Plugin, options: AddPluginOptions = {}): Promise<void> {
    if (!plugin || typeof plugin.name !== "string" || plugin.name === "") {
      throw new TypeError("Cannot add plugin: it needs a non-empty name");
    }
    if (plugin.handlers === undefined && typeof plugin.trigger !== "function") {
      throw new TypeError(
        `Cannot add plugin "${plugin.name}": it needs handlers or a trigger method`,
      );
    }
    const component = options.component ?? "app";
    if (!COMPONENTS.has(component)) {
      throw new TypeError(
        `Cannot add plugin "${plugin.name}": unknown component "${component}" (app, worker, broker, storage or globalConfig)`,
      );
    }
    for (const name of [...(options.triggers ?? []), ...Object.keys(plugin.handlers ?? {})]) {
      if (!Object.hasOwn(TRIGGERS, name)) {
        throw new TypeError(`Cannot add plugin "${plugin.name}": unknown trigger "${name}"`);
      }
    }
    const entry: Entry = {
      plugin,
      component,
      triggers: options.triggers ? new Set(options.triggers) : undefined,
    };
    this.#entries.push(entry);
    for (const name of Object.keys(TRIGGERS) as TriggerName[]) {
      if (this.#hears(entry, name)) {
        const list = this.#listeners.get(name) ?? [];
        list.push(entry);
        this.#listeners.set(name, list);
      }
    }
    return this.#started.has(component) ? this.#startOne(entry) : Promise.resolve();
  }

  /** Whether any plugin hears trigger `name` (callers skip building its arguments otherwise). */
  listens(name: TriggerName): boolean {
    return this.#listeners.has(name);
  }

  /**
   * Runs trigger `name`: each plugin that hears it gets the arguments with the replaceable
   * fields as the previous plugin left them. Returns the final arguments (the same object when
   * nobody listens or nothing was replaced). A replaced task or settlement keeps its identity
   * (uuid, deliveries).
   *
   * @throws {TaskPluginTriggerError} When a plugin throws on a `task_executor_*` trigger (the
   *   task ends as `error` unless `task_executor_run_task_trigger_error` supplies a result); a
   *   plugin that throws on any other trigger is logged and skipped.
   */
  async run<N extends TriggerName>(name: N, args: TriggerArgs<N>): Promise<TriggerArgs<N>> {
    const listeners = this.#listeners.get(name);
    if (!listeners) return args;
    const info = TRIGGERS[name];
    const replaces = info.replaces;
    let current = args;
    for (const entry of listeners) {
      let returned: unknown;
      try {
        const handler = entry.plugin.handlers?.[name] as
          | ((args: TriggerArgs<N>) => unknown)
          | undefined;
        returned = handler
          ? await handler(current)
          : await entry.plugin.trigger?.(name, current as TriggerArgs<TriggerName>);
      } catch (error) {
        const message = `Plugin "${entry.plugin.name}" failed on trigger "${name}": ${
          describe(error)
        }`;
        this.#logger.error(message, { error });
        if (info.failsTask) {
          throw new TaskPluginTriggerError(message, {
            plugin: entry.plugin.name,
            trigger: name,
            cause: error,
          });
        }
        continue;
      }
      if (returned === null || typeof returned !== "object" || replaces.length === 0) continue;
      const replacement = returned as Record<string, unknown>;
      for (const field of replaces) {
        let value = replacement[field];
        if (value === undefined) continue;
        if (current === args) current = { ...args };
        const before = (current as Record<string, unknown>)[field];
        if (info.pinned && isObject(value) && isObject(before)) {
          value = { ...value };
          for (const key of info.pinned) {
            if (key in before) (value as Record<string, unknown>)[key] = before[key];
          }
        }
        (current as Record<string, unknown>)[field] = value;
      }
    }
    return current;
  }

  /** Starts the plugins of `component` (each once; a failure is logged). */
  async start(component: PluginComponent): Promise<void> {
    this.#started.add(component);
    for (const entry of this.#entries) {
      if (entry.component === component) await this.#startOne(entry);
    }
  }

  /** Stops the plugins of `component`, in reverse order (a failure is logged). */
  async stop(component: PluginComponent): Promise<void> {
    if (!this.#started.delete(component)) return;
    for (const entry of [...this.#entries].reverse()) {
      if (entry.component !== component || !entry.plugin.stop) continue;
      try {
        await entry.plugin.stop();
      } catch (error) {
        this.#logger.error(`Plugin "${entry.plugin.name}" failed to stop: ${describe(error)}`, {
          error,
        });
      }
    }
  }

  async #startOne(entry: Entry): Promise<void> {
    if (!entry.plugin.start) return;
    try {
      await entry.plugin.start();
    } catch (error) {
      this.#logger.error(`Plugin "${entry.plugin.name}" failed to start: ${describe(error)}`, {
        error,
      });
    }
  }

  /** Whether `entry` has something to call for `name`, and is allowed and placed to hear it. */
  #hears(entry: Entry, name: TriggerName): boolean {
    const { handlers, trigger } = entry.plugin;
    if (!Object.hasOwn(handlers ?? {}, name) && typeof trigger !== "function") return false;
    if (entry.triggers && !entry.triggers.has(name)) return false;
    if (entry.component === "app") return true;
    return TRIGGERS[name].component === entry.component;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

import type { ComponentContext } from "../broker/broker.ts";
import { ComponentPlugins } from "../plugins/component_plugins.ts";
import type { GlobalConfig } from "./global_config.ts";

/**
 * In-memory {@linkcode GlobalConfig}: settings in a map, the heartbeat as a flag. For tests,
 * demos and one-process apps.
 *
 * @example
 * ```ts
 * import { MemoryGlobalConfig } from "@qtasks/qtasks";
 *
 * const config = new MemoryGlobalConfig({ name: "demo" });
 * await config.set("feature", "beta", "on");
 * console.log(await config.getAll("feature")); // { beta: "on" }
 * ```
 */
export class MemoryGlobalConfig implements GlobalConfig {
  /** The app name. */
  readonly name: string;
  #groups = new Map<string, Map<string, string>>();
  #running = false;
  #plugins = new ComponentPlugins("globalConfig");

  /** @param options `name`: the app name (default `QueueTasks`). */
  constructor(options: { name?: string } = {}) {
    this.name = options.name ?? "QueueTasks";
  }

  /** Takes the app's plugins without starting (so a producer that never starts fires triggers). */
  attach(context: ComponentContext): void {
    this.#plugins.bind(context);
  }

  /**
   * Marks the app as running, then starts the GlobalConfig's plugins (`global_config_start`) and
   * runs `global_config_set_status` (`running`).
   */
  async start(context: ComponentContext): Promise<void> {
    this.#plugins.bind(context);
    this.#running = true;
    await this.#plugins.started("global_config_start");
    await this.#setStatus("running");
  }

  /**
   * Marks the app as stopped and runs `global_config_set_status` (`stopped`), then
   * `global_config_stop` and stops the GlobalConfig's plugins.
   */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    await this.#setStatus("stopped");
    await this.#plugins.stopping("global_config_stop");
  }

  /** Stores a value; `global_config_set` may replace the group, key and value first. */
  async set(name: string, key: string, value: string): Promise<void> {
    ({ name, key, value } = await this.#plugins.fire("global_config_set", {
      name,
      key,
      value,
    }));
    let group = this.#groups.get(name);
    if (!group) this.#groups.set(name, group = new Map());
    group.set(key, String(value));
  }

  /** Reads a value; `global_config_get` may replace it. */
  async get(name: string, key: string): Promise<string | undefined> {
    const result = this.#groups.get(name)?.get(key);
    return (await this.#plugins.fire("global_config_get", {
      name,
      key,
      result,
    })).result;
  }

  /** Reads a group; `global_config_get_all` may replace it. */
  async getAll(name: string): Promise<Record<string, string>> {
    const result = Object.fromEntries(this.#groups.get(name) ?? []);
    return (await this.#plugins.fire("global_config_get_all", {
      name,
      result,
    })).result;
  }

  /**
   * Reads the keys of a group that match a glob (see {@linkcode GlobalConfig.getMatch});
   * `global_config_get_match` may replace them.
   */
  async getMatch(name: string, pattern: string): Promise<Record<string, string>> {
    const matcher = globToRegExp(pattern);
    const result: Record<string, string> = {};
    for (const [key, value] of this.#groups.get(name) ?? []) {
      if (matcher.test(key)) result[key] = value;
    }
    return (await this.#plugins.fire("global_config_get_match", {
      name,
      pattern,
      result,
    })).result;
  }

  /** Whether `start` was called and `stop` was not. */
  isRunning(): Promise<boolean> {
    return Promise.resolve(this.#running);
  }

  async #setStatus(status: "running" | "stopped"): Promise<void> {
    await this.#plugins.fire("global_config_set_status", {
      status,
    });
  }
}

/** A character as a RegExp atom that matches only itself (no `u` flag). */
function literal(char: string): string {
  return "\\u" + char.charCodeAt(0).toString(16).padStart(4, "0");
}

/**
 * Translates a Redis glob (`*`, `?`, `[abc]`, `[^a]`, `[a-z]`, `\x`) into an anchored RegExp, as
 * Redis' stringmatchlen reads it: every other character is literal, an unclosed `[` takes the
 * rest of the pattern as its set, and a range's ends may come in either order.
 */
function globToRegExp(pattern: string): RegExp {
  let source = "^";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === "*") source += "[\\s\\S]*";
    else if (char === "?") source += "[\\s\\S]";
    else if (char === "\\" && i + 1 < pattern.length) source += literal(pattern[++i]);
    else if (char === "[") {
      i++;
      const negate = pattern[i] === "^";
      if (negate) i++;
      let set = "";
      for (; i < pattern.length && pattern[i] !== "]"; i++) {
        if (pattern[i] === "\\" && i + 1 < pattern.length) set += literal(pattern[++i]);
        else if (i + 2 < pattern.length && pattern[i + 1] === "-") {
          const [low, high] = [pattern[i], pattern[i + 2]].sort();
          set += `${literal(low)}-${literal(high)}`;
          i += 2;
        } else set += literal(pattern[i]);
      }
      source += `[${negate ? "^" : ""}${set}]`;
    } else source += literal(char);
  }
  return new RegExp(source + "$");
}

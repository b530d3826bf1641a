import type { ComponentContext } from "../broker/broker.ts";
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

  /** @param options `name`: the app name (default `QueueTasks`). */
  constructor(options: { name?: string } = {}) {
    this.name = options.name ?? "QueueTasks";
  }

  /** Marks the app as running. */
  start(_context: ComponentContext): Promise<void> {
    this.#running = true;
    return Promise.resolve();
  }

  /** Marks the app as stopped. */
  stop(): Promise<void> {
    this.#running = false;
    return Promise.resolve();
  }

  /** Stores a value. */
  set(name: string, key: string, value: string): Promise<void> {
    let group = this.#groups.get(name);
    if (!group) this.#groups.set(name, group = new Map());
    group.set(key, String(value));
    return Promise.resolve();
  }

  /** Reads a value. */
  get(name: string, key: string): Promise<string | undefined> {
    return Promise.resolve(this.#groups.get(name)?.get(key));
  }

  /** Reads a group. */
  getAll(name: string): Promise<Record<string, string>> {
    return Promise.resolve(Object.fromEntries(this.#groups.get(name) ?? []));
  }

  /** Whether `start` was called and `stop` was not. */
  isRunning(): Promise<boolean> {
    return Promise.resolve(this.#running);
  }
}

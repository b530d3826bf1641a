/**
 * The in-memory backend, assembled by hand: {@linkcode MemoryBroker} (queue, leases, claims),
 * {@linkcode MemoryStorage} (records) and {@linkcode MemoryGlobalConfig} (settings, heartbeats),
 * all in this process. `new QueueTasks()` without a `brokerUrl` builds these for you; import them
 * to share one broker between an app and a worker pool, or to test a component of your own
 * against them.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { MemoryBroker, MemoryGlobalConfig, MemoryStorage } from "@qtasks/qtasks/memory";
 *
 * const globalConfig = new MemoryGlobalConfig();
 * const storage = new MemoryStorage({ globalConfig });
 * const broker = new MemoryBroker({ storage });
 * const app = new QueueTasks({ name: "memory", broker });
 * app.task("hello", (who: string) => `hello ${who}`);
 * await app.start();
 * console.log(await (await app.addTask("hello", ["memory"])).value()); // "hello memory"
 * await app.stop();
 * ```
 *
 * @module
 */
export { MemoryBroker } from "./memory_broker.ts";
export { MemoryStorage } from "./memory_storage.ts";
export { MemoryGlobalConfig } from "./memory_global_config.ts";

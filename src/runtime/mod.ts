/**
 * The runtime ports and their adapters: {@linkcode Runtime} (signals, exit, environment, host
 * name: everything QTasks needs from Deno, Bun or Node) and {@linkcode ThreadFactory} (the
 * threads of a worker pool), the registry that picks the adapter for the current runtime, and
 * the adapters themselves. Importing this module registers the Deno, Bun and Node adapters (as
 * importing `@qtasks/qtasks` does).
 *
 * @example Cross-runtime code: read the environment, exit
 * ```ts
 * import { getRuntime } from "@qtasks/qtasks/runtime";
 *
 * const runtime = getRuntime();
 * const url = runtime.env("QTASKS_REDIS_URL") ?? "redis://127.0.0.1:6379";
 * console.log(runtime.name, url); // "deno" "redis://127.0.0.1:6379"
 * ```
 *
 * @module
 */
import "./adapters.ts";

export { getRuntime, registerRuntime, setRuntime } from "../ports/runtime.ts";
export type { Runtime, ShutdownSignal } from "../ports/runtime.ts";
export {
  getThreadFactory,
  registerThreadFactory,
  setThreadFactory,
} from "../ports/thread_factory.ts";
export type {
  ThreadFactory,
  ThreadHandle,
  ThreadListener,
  ThreadPort,
} from "../ports/thread_factory.ts";
export { denoRuntime } from "./deno_runtime.ts";
export { nodeRuntime } from "./node_runtime.ts";
export { webThreadFactory } from "./web_threads.ts";
export { nodeThreadFactory } from "./node_threads.ts";

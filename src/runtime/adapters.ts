/**
 * Registers the runtime adapters for Deno, Bun and Node with {@linkcode registerRuntime}, and
 * their thread factories with {@linkcode registerThreadFactory}. Imported once by mod.ts (and by
 * the worker pool's thread entry); the core never imports an adapter directly.
 *
 * @module
 */
import { denoRuntime } from "./deno_runtime.ts";
import { nodeRuntime } from "./node_runtime.ts";
import { registerRuntime } from "../ports/runtime.ts";
import { nodeThreadFactory } from "./node_threads.ts";
import { webThreadFactory } from "./web_threads.ts";
import { registerThreadFactory } from "../ports/thread_factory.ts";

registerRuntime(denoRuntime);
registerRuntime(nodeRuntime);
registerThreadFactory(webThreadFactory);
registerThreadFactory(nodeThreadFactory);

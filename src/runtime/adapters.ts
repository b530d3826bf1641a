/**
 * Registers the runtime adapters for Deno, Bun and Node with {@linkcode registerRuntime}.
 * Imported once by mod.ts; the core never imports an adapter directly.
 *
 * @module
 */
import { denoRuntime } from "./deno_runtime.ts";
import { nodeRuntime } from "./node_runtime.ts";
import { registerRuntime } from "./runtime.ts";

registerRuntime(denoRuntime);
registerRuntime(nodeRuntime);

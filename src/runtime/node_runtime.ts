import process from "node:process";
import { hostname } from "node:os";
import type { Runtime } from "../ports/runtime.ts";

/**
 * The runtime adapter for Node and Bun (both provide `node:process`).
 *
 * @returns The adapter, named `bun` under Bun.
 *
 * @example
 * ```ts
 * import { nodeRuntime } from "@qtasks/qtasks/runtime";
 *
 * console.log(nodeRuntime().pid > 0); // true
 * ```
 */
export function nodeRuntime(): Runtime {
  const bun = (globalThis as { Bun?: { version: string } }).Bun;
  return {
    name: bun ? "bun" : "node",
    version: bun ? bun.version : process.versions.node,
    pid: process.pid,
    hostname: () => hostname(),
    env: (name) => process.env[name],
    onSignal: (signal, handler) => {
      process.on(signal, handler);
      return () => void process.off(signal, handler);
    },
    exit: (code) => process.exit(code),
    defer: (callback) => void setImmediate(callback),
    args: () => process.argv.slice(2),
    cwd: () => process.cwd(),
    write: (stream, text) =>
      new Promise<void>((resolve, reject) => {
        const output = stream === "stdout" ? process.stdout : process.stderr;
        output.write(text, (error) => (error ? reject(error) : resolve()));
      }),
    isTerminal: (stream) => Boolean((stream === "stdout" ? process.stdout : process.stderr).isTTY),
  };
}

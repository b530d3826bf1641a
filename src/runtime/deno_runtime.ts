import type { Runtime, ShutdownSignal } from "../ports/runtime.ts";

interface DenoNamespace {
  version: { deno: string };
  pid: number;
  hostname(): string;
  env: { get(name: string): string | undefined };
  addSignalListener(signal: ShutdownSignal, handler: () => void): void;
  removeSignalListener(signal: ShutdownSignal, handler: () => void): void;
  exit(code: number): never;
  args: string[];
  cwd(): string;
  stdout: DenoOutput;
  stderr: DenoOutput;
}

interface DenoOutput {
  write(bytes: Uint8Array): Promise<number>;
  isTerminal(): boolean;
}

/**
 * The runtime adapter for Deno, or `undefined` elsewhere.
 *
 * @returns The adapter when running on Deno.
 *
 * @example
 * ```ts
 * import { denoRuntime } from "@qtasks/qtasks/runtime";
 *
 * console.log(denoRuntime()?.name);
 * ```
 */
export function denoRuntime(): Runtime | undefined {
  const deno = (globalThis as { Deno?: DenoNamespace }).Deno;
  if (deno === undefined || typeof deno.addSignalListener !== "function") return undefined;
  return {
    name: "deno",
    version: deno.version.deno,
    pid: deno.pid,
    hostname: () => {
      try {
        return deno.hostname();
      } catch {
        return "localhost";
      }
    },
    env: (name) => {
      try {
        return deno.env.get(name);
      } catch {
        return undefined;
      }
    },
    onSignal: (signal, handler) => {
      deno.addSignalListener(signal, handler);
      return () => deno.removeSignalListener(signal, handler);
    },
    exit: (code) => deno.exit(code),
    defer: (callback) => void setImmediate(callback),
    args: () => [...deno.args],
    cwd: () => deno.cwd(),
    write: async (stream, text) => {
      const output = stream === "stdout" ? deno.stdout : deno.stderr;
      let bytes = new TextEncoder().encode(text);
      while (bytes.length > 0) bytes = bytes.subarray(await output.write(bytes));
    },
    isTerminal: (stream) => (stream === "stdout" ? deno.stdout : deno.stderr).isTerminal(),
  };
}

/**
 * The signals QTasks handles for graceful shutdown.
 *
 * @example
 * ```ts
 * import type { ShutdownSignal } from "@qtasks/qtasks/runtime";
 *
 * const signal: ShutdownSignal = "SIGTERM";
 * ```
 */
export type ShutdownSignal = "SIGINT" | "SIGTERM";

/**
 * Everything QTasks needs from the JavaScript runtime, behind one small interface. The core
 * code never touches `Deno`, `Bun` or `process`; it calls {@linkcode getRuntime}.
 *
 * @example A runtime for tests that records exits instead of exiting
 * ```ts
 * import { getRuntime } from "@qtasks/qtasks";
 * import { type Runtime, setRuntime } from "@qtasks/qtasks/runtime";
 *
 * const real = getRuntime();
 * const exits: number[] = [];
 * const fake: Runtime = { ...real, exit: (code) => void exits.push(code) };
 * setRuntime(fake);
 * setRuntime(undefined); // back to detection
 * ```
 */
export interface Runtime {
  /** Which runtime this is. */
  readonly name: "deno" | "bun" | "node";
  /** The runtime's version string. */
  readonly version: string;
  /** The process id. */
  readonly pid: number;
  /** The machine's host name. */
  hostname(): string;
  /** Reads an environment variable; `undefined` when unset or not permitted. */
  env(name: string): string | undefined;
  /** Calls `handler` on the signal; returns a function that removes it. */
  onSignal(signal: ShutdownSignal, handler: () => void): () => void;
  /** Ends the process with `code`. */
  exit(code: number): void;
  /**
   * Runs `callback` once the current turn's promise jobs and pending I/O are done, without the
   * minimum delay of `setTimeout(…, 0)` (`setImmediate` on all three runtimes).
   */
  defer(callback: () => void): void;
  /** The command-line arguments after the program and script names. */
  args(): string[];
  /** The working directory. */
  cwd(): string;
  /** Writes `text` to standard output or standard error; resolves once it is written. */
  write(stream: "stdout" | "stderr", text: string): Promise<void>;
  /** Whether standard output or standard error is a terminal (not a pipe or a file). */
  isTerminal(stream: "stdout" | "stderr"): boolean;
}

let override: Runtime | undefined;
let detected: Runtime | undefined;

/**
 * Replaces the detected runtime (for tests), or restores detection with `undefined`.
 *
 * @param runtime The runtime to use from now on.
 *
 * @example
 * ```ts
 * import { getRuntime } from "@qtasks/qtasks";
 * import { setRuntime } from "@qtasks/qtasks/runtime";
 *
 * setRuntime({ ...getRuntime(), env: () => undefined });
 * setRuntime(undefined);
 * ```
 */
export function setRuntime(runtime: Runtime | undefined): void {
  override = runtime;
}

/**
 * Returns the runtime adapter: the override if one is set, else the one detected for Deno, Bun
 * or Node (detected once, on first use).
 *
 * @returns The runtime.
 *
 * @example
 * ```ts
 * import { getRuntime } from "@qtasks/qtasks";
 *
 * console.log(getRuntime().name); // "deno", "bun" or "node"
 * ```
 */
export function getRuntime(): Runtime {
  if (override) return override;
  detected ??= detectRuntime();
  return detected;
}

/** Registered by the adapter modules; keeps the core free of runtime imports. */
const factories: Array<() => Runtime | undefined> = [];

/**
 * Registers a runtime adapter factory; the first one that returns a runtime wins. The adapters
 * for Deno, Bun and Node register themselves when `src/runtime/adapters.ts` is imported.
 *
 * @param factory Returns a runtime when it recognises the current one.
 *
 * @example
 * ```ts
 * import { getRuntime } from "@qtasks/qtasks";
 * import { registerRuntime } from "@qtasks/qtasks/runtime";
 *
 * registerRuntime(() => undefined); // recognises nothing
 * console.log(getRuntime().name);
 * ```
 */
export function registerRuntime(factory: () => Runtime | undefined): void {
  factories.push(factory);
}

function detectRuntime(): Runtime {
  for (const factory of factories) {
    const runtime = factory();
    if (runtime) return runtime;
  }
  throw new Error("Cannot detect the JavaScript runtime: QTasks supports Deno, Bun and Node");
}

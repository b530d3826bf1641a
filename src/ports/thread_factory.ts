/**
 * What a thread sends and receives: the events of one thread, seen from the thread that started
 * it. `exit` fires once, whatever ended the thread (its own exit, a crash, `terminate`), on the
 * runtimes that report it; `error` fires for an uncaught exception in the thread (which then
 * ends, or is terminated by its owner).
 *
 * @example
 * ```ts
 * import type { ThreadListener } from "@qtasks/qtasks/runtime";
 *
 * const listener: ThreadListener = {
 *   message: (data) => console.log("from the thread:", data),
 *   error: (error) => console.error("the thread threw:", error),
 *   exit: () => console.log("the thread ended"),
 * };
 * ```
 */
export interface ThreadListener {
  /** A message the thread posted. */
  message(data: unknown): void;
  /** An uncaught exception in the thread (an `Error`, or a description of it). */
  error(error: unknown): void;
  /** The thread ended. */
  exit(): void;
}

/**
 * A started thread, seen from its owner.
 *
 * @example
 * ```ts
 * import type { ThreadHandle } from "@qtasks/qtasks/runtime";
 *
 * async function stop(thread: ThreadHandle): Promise<void> {
 *   thread.post({ type: "close" });
 *   await thread.terminate();
 * }
 * ```
 */
export interface ThreadHandle {
  /** Sends a message to the thread (structured clone). */
  post(message: unknown): void;
  /** Ends the thread at once, whatever it is doing; resolves once it is gone. */
  terminate(): Promise<void>;
}

/**
 * The thread's side of the channel to its owner.
 *
 * @example
 * ```ts
 * import type { ThreadPort } from "@qtasks/qtasks/runtime";
 *
 * function echo(port: ThreadPort): void {
 *   port.listen((data) => port.post(data));
 * }
 * ```
 */
export interface ThreadPort {
  /** Sends a message to the owner (structured clone). */
  post(message: unknown): void;
  /** Calls `handler` with each message from the owner. */
  listen(handler: (data: unknown) => void): void;
  /**
   * Calls `notify` (once) just before the thread ends itself with the runtime's exit
   * (`Deno.exit`, `process.exit`), on runtimes where the owner would not learn of it otherwise
   * (Deno); `notify` can still post. Absent where the owner is told anyway.
   */
  onExit?(notify: () => void): void;
}

/**
 * Starts threads that run an ES module: the Web `Worker` on Deno and Bun, `node:worker_threads`
 * on Node. {@linkcode getThreadFactory} picks the one of the current runtime (the adapters in
 * `src/runtime/` register themselves); {@linkcode setThreadFactory} replaces it, for tests.
 *
 * @example A factory that counts the threads it started
 * ```ts
 * import { getThreadFactory, type ThreadFactory } from "@qtasks/qtasks/runtime";
 *
 * let started = 0;
 * const real = getThreadFactory();
 * const counting: ThreadFactory = {
 *   name: real.name,
 *   spawn(url, listener) {
 *     started++;
 *     return real.spawn(url, listener);
 *   },
 *   port: () => real.port(),
 * };
 * console.log(counting.name, started);
 * ```
 */
export interface ThreadFactory {
  /** Which threads it starts. */
  readonly name: "web" | "node";
  /** Starts a thread running the ES module at `url` (TypeScript where the runtime runs it). */
  spawn(url: URL, listener: ThreadListener): ThreadHandle;
  /** Inside a thread it started: the channel to the owner; `undefined` on the main thread. */
  port(): ThreadPort | undefined;
}

let override: ThreadFactory | undefined;
let detected: ThreadFactory | undefined;
const factories: Array<() => ThreadFactory | undefined> = [];

/**
 * Registers a thread factory; the first one that recognises the runtime wins. The factories for
 * Deno, Bun and Node register themselves when `src/runtime/adapters.ts` is imported.
 *
 * @param factory Returns a thread factory when it fits the current runtime.
 *
 * @example
 * ```ts
 * import { getThreadFactory, registerThreadFactory } from "@qtasks/qtasks/runtime";
 *
 * registerThreadFactory(() => undefined); // fits nothing
 * console.log(getThreadFactory().name);
 * ```
 */
export function registerThreadFactory(factory: () => ThreadFactory | undefined): void {
  factories.push(factory);
}

/**
 * Replaces the detected thread factory (for tests), or restores detection with `undefined`.
 *
 * @param factory The factory to use from now on.
 *
 * @example
 * ```ts
 * import { getThreadFactory, setThreadFactory } from "@qtasks/qtasks/runtime";
 *
 * setThreadFactory(getThreadFactory());
 * setThreadFactory(undefined);
 * ```
 */
export function setThreadFactory(factory: ThreadFactory | undefined): void {
  override = factory;
}

/**
 * The thread factory of the current runtime (detected on first use), or the one set with
 * {@linkcode setThreadFactory}.
 *
 * @returns The factory.
 * @throws {Error} When no registered factory fits the runtime.
 *
 * @example
 * ```ts
 * import { getThreadFactory } from "@qtasks/qtasks/runtime";
 *
 * console.log(getThreadFactory().name); // "web" on Deno and Bun, "node" on Node
 * ```
 */
export function getThreadFactory(): ThreadFactory {
  if (override) return override;
  if (detected) return detected;
  for (const factory of factories) {
    const found = factory();
    if (found) return detected = found;
  }
  throw new Error(
    "Cannot start threads: no thread factory fits this runtime (QTasks supports Deno, Bun and Node)",
  );
}

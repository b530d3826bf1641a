import type {
  ThreadFactory,
  ThreadHandle,
  ThreadListener,
  ThreadPort,
} from "../ports/thread_factory.ts";

/** The parts of a Web Worker used here (Deno and Bun; Bun also fires `close` when it ends). */
interface WebWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  addEventListener(type: string, listener: (event: Event) => void): void;
}

/** The parts of the worker global scope used inside a thread. */
interface WorkerScope {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
}

/** Something with an exit function: `Deno`, `process`. */
type Exiting = { exit?: (code?: number) => unknown };

/**
 * Deno's worker ends at `Deno.exit()` (and its `process.exit()`) without a word to its owner:
 * both are wrapped to call `notify` first (once). Bun reports it anyway; wrapping is harmless.
 */
function wrapExits(notify: () => void): void {
  let notified = false;
  const g = globalThis as { Deno?: Exiting; process?: Exiting };
  for (const target of [g.Deno, g.process]) {
    if (target === undefined || target === null || typeof target.exit !== "function") continue;
    const exit = target.exit.bind(target);
    const wrapped = (code?: number): unknown => {
      if (!notified) {
        notified = true;
        try {
          notify();
        } catch {
          // Exits all the same.
        }
      }
      return exit(code);
    };
    try {
      Object.defineProperty(target, "exit", { value: wrapped, writable: true, configurable: true });
    } catch {
      // A runtime whose exit cannot be replaced: the owner may not be told.
    }
  }
}

type WorkerConstructor = new (url: URL, options: { type: "module" }) => WebWorker;

/**
 * The thread factory of Deno and Bun: the Web `Worker` (`{ type: "module" }`, TypeScript runs as
 * is), or `undefined` on other runtimes. An uncaught exception in a thread fires the listener's
 * `error` (its default handling, which would end the whole process on Deno, is prevented).
 *
 * @returns The factory on Deno and Bun.
 *
 * @example
 * ```ts
 * import { webThreadFactory } from "@qtasks/qtasks/runtime";
 *
 * console.log(webThreadFactory()?.name); // "web" on Deno and Bun
 * ```
 */
export function webThreadFactory(): ThreadFactory | undefined {
  const g = globalThis as { Deno?: unknown; Bun?: unknown; Worker?: WorkerConstructor };
  if ((g.Deno === undefined && g.Bun === undefined) || typeof g.Worker !== "function") {
    return undefined;
  }
  const WorkerClass = g.Worker;
  // Inside a thread: Bun says so (`Bun.isMainThread`); Deno's worker scope is a WorkerGlobalScope.
  const scopeClass = (globalThis as { WorkerGlobalScope?: abstract new () => unknown })
    .WorkerGlobalScope;
  const inThread = g.Bun !== undefined
    ? (g.Bun as { isMainThread?: boolean }).isMainThread === false
    : typeof scopeClass === "function" && globalThis instanceof scopeClass;
  return {
    name: "web",
    spawn(url: URL, listener: ThreadListener): ThreadHandle {
      const worker = new WorkerClass(url, { type: "module" });
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        listener.exit();
      };
      worker.addEventListener("message", (event) => listener.message((event as MessageEvent).data));
      worker.addEventListener("error", (event) => {
        event.preventDefault();
        const error = (event as ErrorEvent).error ?? new Error((event as ErrorEvent).message);
        listener.error(error);
      });
      worker.addEventListener("messageerror", () => {
        listener.error(new Error("A message from the thread could not be deserialized"));
      });
      // Bun fires `close` when the thread ends by itself; Deno fires nothing.
      worker.addEventListener("close", end);
      return {
        post: (message) => worker.postMessage(message),
        terminate: () => {
          worker.terminate();
          end();
          return Promise.resolve();
        },
      };
    },
    port(): ThreadPort | undefined {
      if (!inThread) return undefined;
      const scope = globalThis as unknown as WorkerScope;
      return {
        post: (message) => scope.postMessage(message),
        listen: (handler) => scope.addEventListener("message", (event) => handler(event.data)),
        onExit: (notify) => wrapExits(notify),
      };
    },
  };
}

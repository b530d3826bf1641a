import { isMainThread, parentPort, Worker } from "node:worker_threads";
import type {
  ThreadFactory,
  ThreadHandle,
  ThreadListener,
  ThreadPort,
} from "../ports/thread_factory.ts";

/**
 * The thread factory of Node: `node:worker_threads` (Node 24 strips the types of a `.ts`
 * module itself; the npm build runs `.js`), or `undefined` on Deno and Bun, which use
 * {@linkcode webThreadFactory}.
 *
 * @returns The factory on Node.
 *
 * @example
 * ```ts
 * import { nodeThreadFactory } from "@qtasks/qtasks/runtime";
 *
 * console.log(nodeThreadFactory()?.name); // "node" on Node
 * ```
 */
export function nodeThreadFactory(): ThreadFactory | undefined {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Deno !== undefined || g.Bun !== undefined) return undefined;
  return {
    name: "node",
    spawn(url: URL, listener: ThreadListener): ThreadHandle {
      const worker = new Worker(url);
      worker.on("message", (data: unknown) => listener.message(data));
      worker.on("error", (error: unknown) => listener.error(error));
      worker.on("messageerror", () => {
        listener.error(new Error("A message from the thread could not be deserialized"));
      });
      let ended = false;
      worker.on("exit", () => {
        if (ended) return;
        ended = true;
        listener.exit();
      });
      return {
        post: (message) => worker.postMessage(message),
        terminate: async () => {
          await worker.terminate();
        },
      };
    },
    port(): ThreadPort | undefined {
      if (isMainThread || parentPort === null) return undefined;
      const port = parentPort;
      return {
        post: (message) => port.postMessage(message),
        listen: (handler) => void port.on("message", handler),
      };
    },
  };
}

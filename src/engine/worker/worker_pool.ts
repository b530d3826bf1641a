import type { WorkerStopOptions } from "../../ports/worker.ts";
import { AsyncWorker, type AsyncWorkerOptions } from "./async_worker.ts";
import { ThreadPool, type ThreadPoolOptions } from "../executor/thread_pool.ts";

/**
 * Options of {@linkcode WorkerPool}: those of {@linkcode AsyncWorker} (but `executor`: the pool
 * is its executor) and those of {@linkcode ThreadPool}.
 *
 * @example
 * ```ts
 * import type { WorkerPoolOptions } from "@qtasks/qtasks";
 * import { MemoryBroker } from "@qtasks/qtasks/memory";
 *
 * const options: WorkerPoolOptions = {
 *   broker: new MemoryBroker({ name: "docs-pool" }),
 *   module: import.meta.url,
 *   size: 2,
 * };
 * ```
 */
export interface WorkerPoolOptions
  extends Omit<AsyncWorkerOptions, "executor">, Omit<ThreadPoolOptions, "logger"> {
  /** Tasks run at once (default: `size` × `concurrencyPerThread`). */
  concurrency?: number;
}

/**
 * A worker that runs its tasks on a {@linkcode ThreadPool}: an {@linkcode AsyncWorker} (claims,
 * leases, retries, `worker_*` triggers and app events on the main thread) whose executor is the
 * pool, so CPU-bound tasks run in parallel on every core. Its start starts the threads (and
 * fails if the task module cannot be loaded in them); its stop stops taking tasks, waits for
 * running ones up to the grace period, gives the rest back to the queue, then terminates every
 * thread. A task with an executor of its own still runs there, on the main thread.
 *
 * The task module (`module`) is imported by each thread: it must export the app and register
 * the tasks; `app.start()` and `app.runForever()` do nothing in a thread, so the file that
 * creates the app and the pool may also run it.
 *
 * @example
 * ```ts ignore
 * // app.ts: run it with `deno run -A app.ts`
 * import { QueueTasks, WorkerPool } from "@qtasks/qtasks";
 * import { RedisBroker } from "@qtasks/qtasks/redis";
 *
 * const broker = new RedisBroker({ name: "hashes", url: "redis://127.0.0.1:6379" });
 * const worker = new WorkerPool({ broker, module: import.meta.url, size: 4 });
 * export const app = new QueueTasks({ name: "hashes", broker, worker });
 * app.task("hash", async (text: string) => {
 *   let digest = new TextEncoder().encode(text);
 *   for (let i = 0; i < 10_000; i++) {
 *     digest = new Uint8Array(await crypto.subtle.digest("SHA-256", digest));
 *   }
 *   return Array.from(digest.slice(0, 4));
 * });
 * await app.runForever(); // in the threads: does nothing
 * ```
 *
 * @example Its concurrency: size × concurrencyPerThread
 * ```ts
 * import { WorkerPool } from "@qtasks/qtasks";
 * import { MemoryBroker } from "@qtasks/qtasks/memory";
 *
 * const worker = new WorkerPool({ broker: new MemoryBroker(), module: import.meta.url, size: 2 });
 * console.log(worker.concurrency, worker.pool.threads); // 2 0
 * ```
 */
export class WorkerPool extends AsyncWorker {
  /** The threads its tasks run on. */
  readonly pool: ThreadPool;
  #closing: Promise<void> | undefined;

  /**
   * Creates a WorkerPool.
   *
   * @param options The broker, the task module, and the pool's and worker's settings.
   */
  constructor(options: WorkerPoolOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError(
        "Cannot create WorkerPool: options with a broker and a module are required",
      );
    }
    if ((options as { executor?: unknown }).executor !== undefined) {
      throw new TypeError(
        "Cannot create WorkerPool: it has no executor option (its thread pool is its executor)",
      );
    }
    const pool = new ThreadPool({
      module: options.module,
      exportName: options.exportName,
      size: options.size,
      concurrencyPerThread: options.concurrencyPerThread,
      terminateAfterMs: options.terminateAfterMs,
      loadTimeoutMs: options.loadTimeoutMs,
      threadFactory: options.threadFactory,
    });
    super({
      broker: options.broker,
      concurrency: options.concurrency ?? pool.concurrency,
      prefetch: options.prefetch,
      id: options.id,
      executor: pool,
    });
    this.pool = pool;
  }

  /** Starts the threads (each loads the task module), then takes tasks. */
  override async start(): Promise<void> {
    if (this.running) return;
    await this.pool.start();
    try {
      await super.start();
    } catch (error) {
      await this.pool.close();
      throw error;
    }
  }

  /**
   * Stops taking tasks, waits for running ones up to the grace period, gives the rest back to
   * the queue, then terminates the threads (see {@linkcode Worker.stop}).
   */
  override stop(options: WorkerStopOptions = {}): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await super.stop(options);
      } finally {
        await this.pool.close();
      }
    })().finally(() => this.#closing = undefined);
    return this.#closing;
  }
}

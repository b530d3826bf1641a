/**
 * The worker pool example's app (not run by itself: see examples/pool.ts). Its worker is a
 * WorkerPool whose threads import this very module: there `app.start()` does nothing, and each
 * thread runs the tasks it is sent by name.
 *
 *   deno run -A examples/pool.ts      (or `bun examples/pool.ts` / `node examples/pool.ts`)
 */
import { QueueTasks, WorkerPool } from "../mod.ts";
import { MemoryBroker } from "../src/backends/memory/mod.ts";

const broker = new MemoryBroker({ name: "pool-demo" });

/** The app, on a pool of 2 threads (in memory here; a RedisBroker works the same way). */
export const app: QueueTasks = new QueueTasks({
  name: "pool-demo",
  broker,
  worker: new WorkerPool({ broker, module: import.meta.url, size: 2 }),
});

/** A CPU-bound task: `rounds` rounds of a pure-JS hash. */
export const hash = app.task("hash", (rounds: number) => {
  let h = 0x811c9dc5;
  for (let i = 0; i < rounds; i++) h = Math.imul(h ^ i, 0x01000193);
  return (h >>> 0).toString(16);
});

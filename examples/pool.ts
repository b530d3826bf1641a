/**
 * Runs CPU-bound tasks on the worker pool of examples/pool_tasks.ts, two at a time on two
 * threads, and prints their results.
 *
 *   deno run -A examples/pool.ts
 *   bun examples/pool.ts
 *   node examples/pool.ts
 */
import { app, hash } from "./pool_tasks.ts";

await app.start(); // starts the threads: each imports pool_tasks.ts and finds `app`
const jobs = await hash.addTasks([[5_000_000], [5_000_000], [5_000_000], [5_000_000]]);
console.log(await Promise.all(jobs.map((job) => job.value()))); // four hashes
await app.stop(); // waits for running tasks, then ends the threads

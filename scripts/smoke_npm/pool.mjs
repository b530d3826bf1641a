// The worker pool from the installed package: the app's worker is a WorkerPool whose two threads
// import this very file (the pool thread's entry must be found next to the compiled sources, as
// .js). Run as a program it adds four tasks and prints "OK pool ..." when every one ran in a
// thread; in a thread it only registers the task.
import { isPoolThread, QueueTasks, WorkerPool } from "@qtasks/qtasks";
import { MemoryBroker } from "@qtasks/qtasks/memory";

const broker = new MemoryBroker({ name: "npm-smoke-pool" });
export const app = new QueueTasks({
  name: "npm-smoke-pool",
  broker,
  worker: new WorkerPool({ broker, module: import.meta.url, size: 2 }),
  config: { logsDefaultLevel: "warn" },
});
export const where = app.task("where", (n) => ({ thread: isPoolThread(), n: n * 2 }));

if (!isPoolThread()) {
  await app.start();
  const jobs = await where.addTasks([[1], [2], [3], [4]]);
  const values = await Promise.all(jobs.map((job) => job.value({ timeoutMs: 20_000 })));
  await app.stop();
  const ok = values.every((value, i) => value.thread === true && value.n === (i + 1) * 2);
  console.log(`${ok ? "OK" : "MISMATCH"} pool: ${JSON.stringify(values)}`);
  if (!ok) globalThis.process?.exit(1);
}

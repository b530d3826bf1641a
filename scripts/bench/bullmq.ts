/**
 * Benchmark driver for BullMQ (with ioredis, its default client), on Node 24:
 *
 *   node scripts/bench/bullmq.ts --mode process --n 20000 --concurrency 100 \
 *     --url redis://127.0.0.1:6390/0 --queue bench
 *
 * The same modes as scripts/bench/qtasks.ts, with BullMQ's own calls and defaults (completed
 * jobs and their return values are kept): `queue.add` (enqueue), `queue.addBulk` (bulk, fill),
 * a `Worker` with `concurrency` started by `run()` and timed until its `completed` event fired
 * for every job (process), and `queue.add` + `job.waitUntilFinished(queueEvents)` (latency).
 * The packages come from scripts/bench/node_modules (`npm install --prefix scripts/bench`).
 *
 * @module
 */
import { createRequire } from "node:module";
import {
  bounded,
  countdown,
  type DriverArgs,
  expectCount,
  latencyRun,
  pool,
  redisTarget,
  requestResponseRun,
  runDriver,
  serveUntilStopped,
  timedRun,
} from "./common.ts";

interface Job {
  id?: string;
  waitUntilFinished(queueEvents: QueueEvents, ttl?: number): Promise<unknown>;
}
interface Queue {
  add(name: string, data: unknown): Promise<Job>;
  addBulk(jobs: Array<{ name: string; data: unknown }>): Promise<Job[]>;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}
interface Worker {
  on(event: "completed", listener: (job: Job) => void): void;
  on(
    event: "failed",
    listener: (job: Job | undefined, error: Error) => void,
  ): void;
  on(event: "error", listener: (error: Error) => void): void;
  run(): Promise<void>;
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}
interface QueueEvents {
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}
interface Connection {
  host: string;
  port: number;
  db: number;
  maxRetriesPerRequest: null;
}
interface BullMQ {
  Queue: new (name: string, options: { connection: Connection }) => Queue;
  Worker: new (
    name: string,
    processor: (job: Job) => Promise<unknown>,
    options: { connection: Connection; concurrency: number; autorun: boolean },
  ) => Worker;
  QueueEvents: new (
    name: string,
    options: { connection: Connection },
  ) => QueueEvents;
}

const require = createRequire(import.meta.url);
const { Queue, Worker, QueueEvents } = require("bullmq") as BullMQ;
const version = (require("bullmq/package.json") as { version: string }).version;

async function main(args: DriverArgs): Promise<void> {
  const connection: Connection = {
    ...redisTarget(args.url),
    maxRetriesPerRequest: null,
  };
  const queue = new Queue(args.queue, { connection });
  await queue.waitUntilReady();
  const noop = (_job: Job) => Promise.resolve(null);
  const common = { lib: "bullmq", version, runtime: "node" };
  const newWorker = () => {
    const worker = new Worker(args.queue, noop, {
      connection,
      concurrency: args.concurrency,
      autorun: false,
    });
    worker.on(
      "error",
      (error) => console.error(`bullmq worker error: ${error.message}`),
    );
    return worker;
  };

  switch (args.mode) {
    case "enqueue": {
      await timedRun(
        { ...common, n: args.n },
        () => pool(args.n, args.concurrency, (i) => queue.add("noop", { i })),
        () => checkCount(queue, "wait", args.n),
      );
      break;
    }
    case "bulk":
    case "fill": {
      const jobs = Array.from(
        { length: args.n },
        (_, i) => ({ name: "noop", data: { i } }),
      );
      await timedRun(
        { ...common, n: args.n },
        () => queue.addBulk(jobs),
        () => checkCount(queue, "wait", args.n),
      );
      break;
    }
    case "process": {
      const worker = newWorker();
      let completed = 0;
      let failed = 0;
      const { poke, done } = countdown(args.n);
      worker.on("completed", () => poke(++completed + failed));
      worker.on("failed", () => poke(completed + ++failed));
      await worker.waitUntilReady();
      await timedRun(
        { ...common, n: args.n, concurrency: args.concurrency },
        () => {
          void worker.run();
          return done;
        },
        async () => {
          await worker.close();
          if (failed > 0) throw new Error(`${failed} jobs failed`);
          await checkCount(queue, "completed", args.n);
        },
      );
      break;
    }
    case "worker": {
      const worker = newWorker();
      await worker.waitUntilReady();
      void worker.run();
      await serveUntilStopped();
      break;
    }
    case "latency": {
      const queueEvents = new QueueEvents(args.queue, { connection });
      await queueEvents.waitUntilReady();
      await latencyRun(
        { ...common, n: args.n },
        args.warmup,
        async (i) => {
          const job = await queue.add("noop", { i });
          await job.waitUntilFinished(queueEvents, 30_000);
        },
        () => queueEvents.close(),
      );
      break;
    }
    case "rr": {
      const queueEvents = new QueueEvents(args.queue, { connection });
      await queueEvents.waitUntilReady();
      await requestResponseRun(
        { ...common, n: args.n },
        args,
        async (_i, payload) => {
          const job = await queue.add("noop", { payload });
          // BullMQ's own ttl rejects as well; the bound makes a lost event a "lost" call.
          return await bounded(
            job.waitUntilFinished(queueEvents, args.waitMs + 1_000),
            args.waitMs,
          );
        },
        () => queueEvents.close(),
      );
      break;
    }
    default:
      throw new Error(`mode ${args.mode} is not implemented for BullMQ`);
  }
  await queue.close();
}

async function checkCount(
  queue: Queue,
  state: string,
  expected: number,
): Promise<void> {
  const counts = await queue.getJobCounts(state);
  expectCount(expected, counts[state], `${state} jobs`);
}

runDriver(main);

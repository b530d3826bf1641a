/**
 * Benchmark driver for bee-queue (with its own redis client), on Node 24:
 *
 *   node scripts/bench/bee_queue.ts --mode process --n 20000 --concurrency 100 \
 *     --url redis://127.0.0.1:6390/0 --queue bench
 *
 * The same modes as scripts/bench/qtasks.ts, with bee-queue's own calls and defaults:
 * `createJob(data).save()` (enqueue), `saveAll` (bulk, fill), `queue.process(concurrency, fn)`
 * timed until its `succeeded` event fired for every job (process), and `job.save()` + the
 * queue's `job succeeded` event for that id (latency, and rr with `--concurrency` calls in flight,
 * each wait bounded by `--wait-ms`). Producers that only enqueue use `isWorker: false, getEvents:
 * false`, as bee-queue recommends; the latency producer keeps `getEvents` on (it needs the
 * event). Defaults kept: succeeded jobs stay in Redis (`removeOnSuccess: false`) and results are
 * sent to producers by pub/sub (`sendEvents: true`); bee-queue does not store return values.
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
  id: string;
  save(): Promise<Job>;
  on(event: "succeeded", listener: (result: unknown) => void): Job;
  on(event: "failed", listener: (error: Error) => void): Job;
}
interface Health {
  waiting: number;
  active: number;
  succeeded: number;
  failed: number;
}
interface Queue {
  createJob(data: unknown): Job;
  saveAll(jobs: Job[]): Promise<Map<Job, Error>>;
  process(concurrency: number, handler: (job: Job) => Promise<unknown>): void;
  on(event: "succeeded", listener: (job: Job, result: unknown) => void): void;
  on(event: "failed", listener: (job: Job, error: Error) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
  on(
    event: "job succeeded",
    listener: (id: string, result: unknown) => void,
  ): void;
  on(event: "job failed", listener: (id: string, error: Error) => void): void;
  ready(): Promise<unknown>;
  checkHealth(): Promise<Health>;
  close(timeoutMs?: number): Promise<void>;
}
interface Settings {
  redis: { host: string; port: number; db: number };
  isWorker?: boolean;
  getEvents?: boolean;
  storeJobs?: boolean;
}
type BeeQueue = new (name: string, settings: Settings) => Queue;

const require = createRequire(import.meta.url);
const BeeQueue = require("bee-queue") as BeeQueue;
const version = (require("bee-queue/package.json") as { version: string }).version;

async function main(args: DriverArgs): Promise<void> {
  const redis = redisTarget(args.url);
  const producer: Settings = {
    redis,
    isWorker: false,
    getEvents: false,
    storeJobs: false,
  };
  const noop = (_job: Job) => Promise.resolve(null);
  const common = { lib: "bee-queue", version, runtime: "node" };
  const workerQueue = async () => {
    const queue = await ready(
      new BeeQueue(args.queue, { redis, getEvents: false }),
    );
    queue.on(
      "error",
      (error) => console.error(`bee-queue error: ${error.message}`),
    );
    return queue;
  };

  switch (args.mode) {
    case "enqueue": {
      const queue = await ready(new BeeQueue(args.queue, producer));
      await timedRun(
        { ...common, n: args.n },
        () => pool(args.n, args.concurrency, (i) => queue.createJob({ i }).save()),
        () => checkHealthAndClose(queue, "waiting", args.n),
      );
      break;
    }
    case "bulk":
    case "fill": {
      const queue = await ready(new BeeQueue(args.queue, producer));
      const jobs = Array.from(
        { length: args.n },
        (_, i) => queue.createJob({ i }),
      );
      await timedRun(
        { ...common, n: args.n },
        () => queue.saveAll(jobs),
        async (errors) => {
          if (errors.size > 0) {
            throw new Error(`saveAll failed for ${errors.size} jobs`);
          }
          await checkHealthAndClose(queue, "waiting", args.n);
        },
      );
      break;
    }
    case "process": {
      const queue = await workerQueue();
      let succeeded = 0;
      let failed = 0;
      const { poke, done } = countdown(args.n);
      queue.on("succeeded", () => poke(++succeeded + failed));
      queue.on("failed", () => poke(succeeded + ++failed));
      await timedRun(
        { ...common, n: args.n, concurrency: args.concurrency },
        () => {
          queue.process(args.concurrency, noop);
          return done;
        },
        async () => {
          if (failed > 0) throw new Error(`${failed} jobs failed`);
          await checkHealthAndClose(queue, "succeeded", args.n);
        },
      );
      break;
    }
    case "worker": {
      const queue = await workerQueue();
      queue.process(args.concurrency, noop);
      await serveUntilStopped();
      break;
    }
    case "latency":
    case "rr": {
      // Waits on the queue-wide "job succeeded" event, not the job's own "succeeded": that one is
      // lost when the job finishes before save() resolves (the job is not in the queue's map
      // yet), which a fast worker does (a run waited 30 s for job 135 of 220).
      const queue = await ready(
        new BeeQueue(args.queue, { redis, isWorker: false, storeJobs: false }),
      );
      const early = new Set<string>();
      const waiters = new Map<string, () => void>();
      const settle = (id: string) => {
        const waiter = waiters.get(id);
        if (waiter) {
          waiters.delete(id);
          waiter();
        } else early.add(id);
      };
      queue.on("job succeeded", settle);
      queue.on("job failed", (id, error) => {
        console.error(`bee-queue job ${id} failed: ${error.message}`);
        settle(id);
      });
      if (args.mode === "rr") {
        await requestResponseRun(
          { ...common, n: args.n },
          args,
          async (_i, payload) => {
            const job = await queue.createJob({ payload }).save();
            if (early.delete(job.id)) return "finished";
            const outcome = await bounded(
              new Promise<void>((resolve) => waiters.set(job.id, resolve)),
              args.waitMs,
            );
            if (outcome === "lost") waiters.delete(job.id);
            return outcome;
          },
          () => queue.close(),
        );
        break;
      }
      await latencyRun(
        { ...common, n: args.n },
        args.warmup,
        async (i) => {
          const job = await queue.createJob({ i }).save();
          if (!early.delete(job.id)) {
            await withTimeout(
              new Promise<void>((resolve) => waiters.set(job.id, resolve)),
              30_000,
              `job ${i} did not finish`,
            );
          }
        },
        () => queue.close(),
      );
      break;
    }
    default:
      throw new Error(`mode ${args.mode} is not implemented for bee-queue`);
  }
}

async function ready(queue: Queue): Promise<Queue> {
  await queue.ready();
  return queue;
}

/** Checks the count of jobs in one state, then closes the queue. */
async function checkHealthAndClose(
  queue: Queue,
  field: keyof Health,
  expected: number,
): Promise<void> {
  const health = await queue.checkHealth();
  expectCount(expected, health[field], `${field} jobs`);
  await queue.close();
}

function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  message: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

runDriver(main);

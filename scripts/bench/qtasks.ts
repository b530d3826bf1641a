/**
 * Benchmark driver for QTasks (this library), on Deno, Bun or Node 24:
 *
 *   deno run -A scripts/bench/qtasks.ts --mode process --n 20000 --concurrency 100 \
 *     --url redis://127.0.0.1:6390/0 --queue bench
 *
 * Modes (see scripts/bench.ts): enqueue (one `addTask` per task, `--concurrency` calls in
 * flight), bulk (`addTasks`), fill (untimed bulk enqueue), process (a worker with
 * `maxTasksProcess = --concurrency`, timed from its start until every task's result is stored),
 * worker (a worker in the background), latency (`await (await h.addTask(i)).result()` one at a
 * time), memworker (a worker that prints its RSS every `--sample-every` tasks) and feed (bulk
 * enqueue in chunks while the queue is shorter than `--max-queue`) and rr (request-response:
 * `await (await h.addTask(payload)).result()` with `--concurrency` calls in flight, each
 * bounded by `result({ timeoutMs: --wait-ms })`).
 *
 * With `QTASKS_BENCH_OTEL=1` in the environment the app is instrumented with
 * `@qtasks/qtasks/otel` (`instrumentApp`), with no OpenTelemetry SDK registered (it then adds
 * nothing); with `QTASKS_BENCH_OTEL=plugin` its plugin and middleware are added by hand, running
 * on the API's no-op tracer and meter (the cost of the hooks themselves). A baseline driver
 * (`--baseline REF`) ignores both.
 *
 * Completion is counted where the worker stores results: a {@linkcode RedisBroker} subclass
 * counts the settlements each exchange stored, so counting costs no Redis command.
 *
 * @module
 */
import process from "node:process";
import { QueueTasks, ResultTimeoutError } from "../../mod.ts";
import { RedisBroker, type RedisComponentOptions } from "../../src/backends/redis/mod.ts";
import type { ExchangeRequest, ExchangeResult } from "../../src/ports/mod.ts";
import {
  countdown,
  type DriverArgs,
  emit,
  expectCount,
  latencyRun,
  memorySample,
  pool,
  requestResponseRun,
  runDriver,
  runtimeName,
  secondsSince,
  serveUntilStopped,
  sleep,
  timedRun,
} from "./common.ts";

/** A RedisBroker that counts the results its exchanges stored. */
class CountingBroker extends RedisBroker {
  succeeded = 0;
  failed = 0;
  /** The uuid of the last result stored. */
  lastStored: string | undefined;
  #listeners = new Set<(stored: number) => void>();

  constructor(options: RedisComponentOptions) {
    super(options);
  }

  override async exchange(request: ExchangeRequest): Promise<ExchangeResult> {
    const result = await super.exchange(request);
    if (request.settlements.length > 0) {
      const rejected = new Set(result.rejected);
      for (const settlement of request.settlements) {
        if (rejected.has(settlement.uuid)) continue;
        if (settlement.status === "success") {
          this.succeeded++;
          this.lastStored = settlement.uuid;
        } else if (settlement.status !== "release") this.failed++;
      }
      const stored = this.succeeded + this.failed;
      for (const listener of this.#listeners) listener(stored);
    }
    return result;
  }

  /** Calls `listener` with the number of stored results after each exchange that stored any. */
  onStored(listener: (stored: number) => void): void {
    this.#listeners.add(listener);
  }
}

function makeApp(args: DriverArgs, worker: boolean) {
  const broker = new CountingBroker({ name: args.queue, url: args.url });
  const app = new QueueTasks({
    name: args.queue,
    broker,
    env: false,
    config: {
      maxTasksProcess: Math.max(1, args.concurrency),
      logsDefaultLevel: "warn",
      // Workers of a benchmark stop at once: nothing is left running when they are killed.
      shutdownGraceMs: worker ? 1_000 : 30_000,
    },
  });
  const noop = app.task("noop", (_i: number | string) => Promise.resolve(null));
  return { app, broker, noop };
}

async function main(args: DriverArgs): Promise<void> {
  const runtime = runtimeName();
  const { app, broker, noop } = makeApp(
    args,
    ["process", "worker", "memworker"].includes(args.mode),
  );
  // Loaded only when asked: a --baseline checkout from before @qtasks/qtasks/otel runs this driver.
  const otel = process.env.QTASKS_BENCH_OTEL;
  const otelModule = "../../src/otel/mod.ts";
  const { instrumentApp, otelInstrumentation } = otel === "1" || otel === "plugin"
    ? await import(otelModule) as typeof import("../../src/otel/mod.ts")
    : { instrumentApp: undefined, otelInstrumentation: undefined };
  if (otel === "1") await instrumentApp!(app);
  if (otel === "plugin") {
    const { plugin, middleware } = otelInstrumentation!();
    await app.addPlugin(plugin);
    app.addMiddleware(middleware, "before");
  }
  const connection = broker.connection;
  const queueLength = async () => Number(await connection.command(["ZCARD", broker.keys.queue]));
  const checkQueued = async () => expectCount(args.n, await queueLength(), "queued tasks");
  // Connect before any timing starts.
  await connection.command(["PING"]);

  switch (args.mode) {
    case "enqueue": {
      await timedRun(
        { runtime, n: args.n },
        () => pool(args.n, args.concurrency, (i) => noop.addTask(i)),
        checkQueued,
      );
      break;
    }
    case "bulk":
    case "fill": {
      const argsList = Array.from(
        { length: args.n },
        (_, i) => [i] as [number],
      );
      await timedRun(
        { runtime, n: args.n },
        () => noop.addTasks(argsList),
        checkQueued,
      );
      break;
    }
    case "process": {
      const { poke, done } = countdown(args.n);
      broker.onStored(poke);
      await timedRun(
        { runtime, n: args.n, concurrency: args.concurrency },
        async () => {
          await app.start();
          await done;
        },
        async () => {
          // The exchanges stored n results (counted from their replies); one is read back
          // through the public API. O(1) commands: the orchestrator counts this run's Redis
          // commands.
          const sample = broker.lastStored ? await app.get(broker.lastStored) : undefined;
          await app.stop();
          if (broker.failed > 0) {
            throw new Error(`${broker.failed} tasks did not succeed`);
          }
          if (broker.succeeded !== args.n) {
            throw new Error(
              `expected ${args.n} stored results, the worker stored ${broker.succeeded}`,
            );
          }
          if (sample?.status !== "success") {
            throw new Error(
              `task ${broker.lastStored} reads back as ${sample?.status ?? "missing"}`,
            );
          }
        },
      );
      break;
    }
    case "worker": {
      await app.start();
      await serveUntilStopped();
      break;
    }
    case "latency": {
      await latencyRun(
        { runtime, n: args.n },
        args.warmup,
        async (i) => await (await noop.addTask(i)).result({ timeoutMs: 30_000 }),
        () => app.stop(),
        (record, i) => {
          if (record.status !== "success") {
            throw new Error(`task ${i} ended as ${record.status}`);
          }
        },
      );
      break;
    }
    case "rr": {
      await requestResponseRun(
        { runtime, n: args.n },
        args,
        async (_i, payload) => {
          try {
            const record = await (await noop.addTask(payload)).result({
              timeoutMs: args.waitMs,
            });
            if (record.status !== "success") {
              throw new Error(`a task ended as ${record.status}`);
            }
            return "finished";
          } catch (error) {
            if (error instanceof ResultTimeoutError) return "lost";
            throw error;
          }
        },
        () => app.stop(),
      );
      break;
    }
    case "memworker": {
      const samples: Array<Record<string, number | boolean>> = [];
      const start = performance.now();
      let nextSample = args.sampleEvery;
      const { poke, done } = countdown(args.n);
      broker.onStored((stored) => {
        while (stored >= nextSample && nextSample <= args.n) {
          const sample = {
            processed: nextSample,
            seconds: secondsSince(start),
            ...memorySample(),
          };
          samples.push(sample);
          emit("SAMPLE", sample);
          nextSample += args.sampleEvery;
        }
        poke(stored);
      });
      const before = memorySample();
      await app.start();
      emit("READY");
      await done;
      const seconds = secondsSince(start);
      if (broker.failed > 0) {
        throw new Error(`${broker.failed} tasks did not succeed`);
      }
      emit("RESULT", {
        runtime,
        n: args.n,
        concurrency: args.concurrency,
        seconds,
        perSecond: args.n / seconds,
        idle: before,
        samples,
      });
      await app.stop({ graceMs: 1_000 });
      break;
    }
    case "feed": {
      let sent = 0;
      let waits = 0;
      const start = performance.now();
      while (sent < args.n) {
        if (await queueLength() >= args.maxQueue) {
          waits++;
          await sleep(20);
          continue;
        }
        const size = Math.min(args.chunk, args.n - sent);
        const base = sent;
        await noop.addTasks(
          Array.from({ length: size }, (_, i) => [base + i] as [number]),
        );
        sent += size;
      }
      emit("RESULT", { runtime, n: sent, seconds: secondsSince(start), waits });
      break;
    }
  }
  if (
    args.mode !== "memworker" && args.mode !== "process" &&
    args.mode !== "latency" && args.mode !== "rr"
  ) {
    await app.stop();
  }
}

runDriver(main);

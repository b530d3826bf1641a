/**
 * The cost of worker stats (config `statsEnabled`): the same worker processes the same no-op
 * tasks with stats on and off, alternating, in one process, against one Redis; prints the
 * throughput of each (median of the rounds) and their ratio.
 *
 *   deno run -A scripts/bench_stats.ts [--n 20000] [--rounds 5] [--concurrency 100]
 *                                      [--redis-url redis://127.0.0.1:6379]
 *
 * Each round: bulk-enqueue n tasks, start the worker, time until every result is stored
 * (counted from the settlements the exchanges stored, which costs no command), stop, flush.
 * Stats on costs two integer increments per task (an app-events `taskStopping` handler, whose
 * payload the worker then builds), and one script call per `statsIntervalMs` (5 s) and at start
 * and stop; no command per task.
 *
 * @module
 */
import { QueueTasks } from "../mod.ts";
import { RedisBroker, type RedisComponentOptions } from "../src/backends/redis/mod.ts";
import type { ExchangeRequest, ExchangeResult } from "../src/ports/mod.ts";
import { cliArgs } from "./cli_args.ts";

const USAGE = "usage: deno run -A scripts/bench_stats.ts [--n N] [--rounds R] [--concurrency C] " +
  "[--redis-url URL]";

class CountingBroker extends RedisBroker {
  stored = 0;
  onStored: (() => void) | undefined;

  constructor(options: RedisComponentOptions) {
    super(options);
  }

  override async exchange(request: ExchangeRequest): Promise<ExchangeResult> {
    const result = await super.exchange(request);
    if (request.settlements.length > 0) {
      this.stored += request.settlements.length - result.rejected.length;
      this.onStored?.();
    }
    return result;
  }
}

async function round(
  url: string,
  n: number,
  concurrency: number,
  statsEnabled: boolean,
): Promise<number> {
  const name = `bench-stats-${crypto.randomUUID().slice(0, 8)}`;
  const broker = new CountingBroker({ name, url });
  const app = new QueueTasks({
    name,
    broker,
    env: false,
    config: { maxTasksProcess: concurrency, logsDefaultLevel: "warn", statsEnabled },
  });
  const noop = app.task("noop", (_i: number) => null);
  await noop.addTasks(Array.from({ length: n }, (_, i) => [i] as [number]));
  const done = new Promise<void>((resolve) => {
    broker.onStored = () => {
      if (broker.stored >= n) resolve();
    };
  });
  const started = performance.now();
  await app.start();
  await done;
  const seconds = (performance.now() - started) / 1000;
  await app.flushAll();
  await app.stop();
  return n / seconds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main(): Promise<void> {
  let n = 20_000;
  let rounds = 5;
  let concurrency = 100;
  let url = "redis://127.0.0.1:6379";
  for (const { flag, value } of cliArgs(Deno.args, USAGE)) {
    if (flag === "--n") n = Number(value());
    else if (flag === "--rounds") rounds = Number(value());
    else if (flag === "--concurrency") concurrency = Number(value());
    else if (flag === "--redis-url") url = value();
    else throw new Error(`unknown flag ${flag}\n${USAGE}`);
  }
  // One untimed warm-up round each way (JIT, connections, script loading).
  await round(url, Math.min(n, 2_000), concurrency, false);
  await round(url, Math.min(n, 2_000), concurrency, true);
  const on: number[] = [];
  const off: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Alternate the order so drift (other load on the machine) hits both alike.
    for (const enabled of i % 2 === 0 ? [false, true] : [true, false]) {
      const perSecond = await round(url, n, concurrency, enabled);
      (enabled ? on : off).push(perSecond);
      console.error(
        `round ${i + 1} stats ${enabled ? "on " : "off"}: ${perSecond.toFixed(0)} tasks/s`,
      );
    }
  }
  const medOn = median(on);
  const medOff = median(off);
  console.log(
    `stats cost: ${n} no-op tasks at concurrency ${concurrency}, ${rounds} rounds, median ` +
      `${medOff.toFixed(0)} tasks/s with stats off, ${medOn.toFixed(0)} tasks/s with stats on: ` +
      `ratio on/off ${(medOn / medOff).toFixed(3)}`,
  );
}

await main();

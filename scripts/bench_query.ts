/**
 * The operator's queries at scale: fills a private redis-server with N finished tasks through the
 * real scripts (enqueue_bulk, then exchanges that claim and settle them: 90% success, 10% error,
 * over 10 task names), then times page queries of 50 records and the counts, and prints p50 and
 * p99 of each (ms, one query at a time, over one connection).
 *
 *   deno run -A scripts/bench_query.ts [--n 1000000] [--queries 1000] [--redis-url URL]
 *
 * Without --redis-url it starts its own redis-server (needs `redis-server` on the PATH) on a free
 * port, so a shared server is never filled; the private one is stopped at the end.
 *
 * @module
 */
import { parseQueueConfig } from "../mod.ts";
import { createLogger } from "../src/model/logger.ts";
import { RedisBroker } from "../src/backends/redis/mod.ts";
import type { QueueOperations } from "../src/ports/mod.ts";
import { fillFinished } from "./_fill_finished.ts";
import { startRedisServer } from "../tests/support/redis_server.ts";
import { cliArgs, positiveInteger } from "./cli_args.ts";

const USAGE = "usage: deno run -A scripts/bench_query.ts [--n N] [--queries Q] [--redis-url URL]";
const NAMES = Array.from({ length: 10 }, (_, i) => `task_${i}`);

let n = 1_000_000;
let queries = 1_000;
let url: string | undefined;
for (const { flag, value } of cliArgs(Deno.args, USAGE)) {
  if (flag === "--n") n = positiveInteger(flag, value(), USAGE);
  else if (flag === "--queries") queries = positiveInteger(flag, value(), USAGE);
  else if (flag === "--redis-url") url = value();
  else throw new Error(`unknown flag ${flag}\n${USAGE}`);
}

const server = url ? undefined : await startRedisServer();
const broker = new RedisBroker({ name: "bench-query", url: url ?? server!.url });
await broker.start({ config: parseQueueConfig({}), logger: createLogger("silent") });
try {
  await broker.flushAll();
  const fillStart = performance.now();
  await fillFinished(broker, n, NAMES);
  const fillSeconds = (performance.now() - fillStart) / 1000;
  const ops: QueueOperations = broker.operations;
  const counts = await ops.counts();
  console.log(
    `${n} finished tasks (${counts.byStatus.success} success, ${counts.byStatus.error} error) ` +
      `filled in ${fillSeconds.toFixed(1)} s through enqueue_bulk + exchange ` +
      `(${Math.round(n / fillSeconds)} tasks/s)`,
  );
  const mid = await ops.list({ status: "success", limit: 1000 });
  let deep = mid.cursor;
  let depth = mid.records.length;
  for (let i = 0; i < 400 && deep; i++) {
    const page = await ops.list({ status: "success", limit: 1000, cursor: deep });
    depth += page.records.length;
    deep = page.cursor;
  }
  const cases: Array<[string, () => Promise<unknown>]> = [
    ["list success (10 task names merged), 50", () => ops.list({ status: "success", limit: 50 })],
    [
      "list error + task name, 50",
      () => ops.list({ status: "error", taskName: "task_9", limit: 50 }),
    ],
    ["list every status and task name, merged, 50", () => ops.list({ limit: 50 })],
    [
      `list success, a page ${Math.round(depth / 1000)}k records deep`,
      () => ops.list({ status: "success", limit: 50, ...(deep ? { cursor: deep } : {}) }),
    ],
    ["counts (by status and task name)", () => ops.counts()],
    ["find by uuid prefix (8 chars)", () => ops.find(mid.records[0].uuid.slice(0, 8))],
  ];
  console.log(`\n| query (${queries} runs each) | p50 ms | p99 ms |\n| --- | ---: | ---: |`);
  for (const [label, run] of cases) {
    for (let i = 0; i < 20; i++) await run();
    const times: number[] = [];
    for (let i = 0; i < queries; i++) {
      const start = performance.now();
      await run();
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
    console.log(`| ${label} | ${at(0.5).toFixed(2)} | ${at(0.99).toFixed(2)} |`);
  }
  const info = String(await broker.connection.command(["INFO", "memory"]));
  const used = /used_memory_human:(\S+)/.exec(info)?.[1];
  console.log(`\nRedis memory used: ${used}`);
} finally {
  await broker.flushAll().catch(() => {});
  await broker.stop();
  await server?.stop();
}

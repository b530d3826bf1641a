/**
 * The dashboard's server time at scale: fills a private redis-server with N finished tasks
 * through the real scripts (as scripts/bench_query.ts: 90% success, 10% error, 10 task names),
 * then times the dashboard handler (`@qtasks/qtasks/web`) answering pages in process, body read
 * included, and the operations query under each page in the same run, interleaved, and prints
 * p50 and p99 of each (ms, one request at a time).
 *
 *   deno run -A scripts/bench_web.ts [--n 1000000] [--requests 500] [--redis-url URL]
 *
 * Without --redis-url it starts its own redis-server (needs `redis-server` on the PATH) on a free
 * port, so a shared server is never filled; the private one is stopped at the end.
 *
 * @module
 */
import { QueueTasks } from "../mod.ts";
import type { RedisBroker } from "../src/backends/redis/mod.ts";
import { createDashboard } from "../src/web/mod.ts";
import { startRedisServer } from "../tests/support/redis_server.ts";
import { cliArgs, positiveInteger } from "./cli_args.ts";
import { fillFinished } from "./_fill_finished.ts";

const USAGE = "usage: deno run -A scripts/bench_web.ts [--n N] [--requests R] [--redis-url URL]";
const NAMES = Array.from({ length: 10 }, (_, i) => `task_${i}`);

let n = 1_000_000;
let requests = 500;
let url: string | undefined;
for (const { flag, value } of cliArgs(Deno.args, USAGE)) {
  if (flag === "--n") n = positiveInteger(flag, value(), USAGE);
  else if (flag === "--requests") requests = positiveInteger(flag, value(), USAGE);
  else if (flag === "--redis-url") url = value();
  else throw new Error(`unknown flag ${flag}\n${USAGE}`);
}

const server = url ? undefined : await startRedisServer();
const app = new QueueTasks({
  name: "bench-web",
  brokerUrl: url ?? server!.url,
  env: false,
  config: { logsDefaultLevel: "silent" },
});
await app.broker.start({ config: app.config, logger: app.logger });
const dashboard = createDashboard({ app });
try {
  await app.flushAll();
  const fillStart = performance.now();
  await fillFinished(app.broker as RedisBroker, n, NAMES);
  const fillSeconds = (performance.now() - fillStart) / 1000;
  const counts = await app.ops.counts();
  console.log(
    `${n} finished tasks (${counts.byStatus.success} success, ${counts.byStatus.error} error) ` +
      `filled in ${fillSeconds.toFixed(1)} s`,
  );
  const first = await app.ops.list({ status: "success", limit: 1000 });
  let deep = first.cursor;
  let depth = first.records.length;
  for (let i = 0; i < 400 && deep; i++) {
    const page = await app.ops.list({ status: "success", limit: 1000, cursor: deep });
    depth += page.records.length;
    deep = page.cursor;
  }
  const uuid = first.records[0].uuid;
  // Each page, and the operations query under it (what bench_query times), interleaved so that
  // both see the same noise: the difference is the dashboard's own cost (record reads of the
  // name list, HTML).
  const ops = app.ops;
  const cases: Array<[string, string, () => Promise<unknown>]> = [
    [
      "tasks page, newest first (every status, merged), 50 rows",
      "/tasks",
      () => ops.list({ limit: 50 }),
    ],
    [
      "tasks page, status success, 50 rows",
      "/tasks?status=success",
      () => ops.list({ status: "success", limit: 50 }),
    ],
    [
      "tasks page, status error + task name, 50 rows",
      "/tasks?status=error&task=task_9",
      () => ops.list({ status: "error", taskName: "task_9", limit: 50 }),
    ],
    [
      `tasks page, ${Math.round(depth / 1000)}k records deep`,
      `/tasks?status=success&cursor=${deep}`,
      () => ops.list({ status: "success", limit: 50, ...(deep ? { cursor: deep } : {}) }),
    ],
    [
      "tasks page, uuid search (8 chars)",
      `/tasks?uuid=${uuid.slice(0, 8)}`,
      () => ops.find(uuid.slice(0, 8), 50),
    ],
    ["overview (counts, stats, throughput)", "/", () => ops.counts()],
    ["task detail", `/tasks/${uuid}`, () => app.get(uuid)],
  ];
  let bytes = 0;
  console.log(
    `\n| page (${requests} requests each) | page p50 ms | page p99 ms | its query p50 | its query p99 |` +
      "\n| --- | ---: | ---: | ---: | ---: |",
  );
  for (const [label, path, query] of cases) {
    const run = async () => {
      const response = await dashboard(new Request(`http://localhost${path}`));
      if (response.status !== 200) throw new Error(`${path} answered ${response.status}`);
      return (await response.text()).length;
    };
    for (let i = 0; i < 20; i++) await run();
    const pages: number[] = [];
    const queries: number[] = [];
    for (let i = 0; i < requests; i++) {
      let start = performance.now();
      bytes = await run();
      pages.push(performance.now() - start);
      start = performance.now();
      await query();
      queries.push(performance.now() - start);
    }
    const at = (times: number[], q: number) =>
      times.sort((a, b) => a - b)[Math.min(times.length - 1, Math.floor(q * times.length))]
        .toFixed(2);
    console.log(
      `| ${label} | ${at(pages, 0.5)} | ${at(pages, 0.99)} | ${at(queries, 0.5)} | ${
        at(queries, 0.99)
      } |`,
    );
  }
  console.log(`\n(last page: ${bytes} bytes of HTML)`);
} finally {
  dashboard.close();
  await app.flushAll().catch(() => {});
  await app.broker.stop();
  await server?.stop();
}

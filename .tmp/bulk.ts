import { QueueTasks } from "../mod.ts";
import { PostgresBroker } from "../src/backends/postgres/mod.ts";
const url = "postgres://postgres@127.0.0.1:5432/qt_pgperf";
const broker = new PostgresBroker({ name: "bk", url, schema: "qt_bk" });
const app = new QueueTasks({ name: "bk", broker, env: false, config: { logsDefaultLevel: "warn" } });
app.task("noop", (_i: number) => null);
await broker.connection.ready();
let orig = broker.connection.run.bind(broker.connection);
let sqlMs = 0;
(broker.connection as any).run = async (...a: any[]) => { const t = performance.now(); const r = await orig(...a); sqlMs += performance.now() - t; return r; };
for (let round = 0; round < 4; round++) {
  await broker.flushAll();
  sqlMs = 0;
  const t = performance.now();
  for (let i = 0; i < 5000; i += 1000) await app.addTasks("noop", Array.from({ length: 1000 }, (_, j) => [i + j]));
  const total = performance.now() - t;
  console.log(`total ${total.toFixed(0)} ms, in run() ${sqlMs.toFixed(0)} ms -> ${(5000 / total * 1000).toFixed(0)}/s`);
}
await broker.flushAll();
await broker.stop();

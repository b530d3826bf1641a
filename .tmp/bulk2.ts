import { QueueTasks } from "../mod.ts";
import { PostgresBroker } from "../src/backends/postgres/mod.ts";
const url = "postgres://postgres@127.0.0.1:5432/qt_pgperf";
const broker = new PostgresBroker({ name: "bk", url, schema: "qt_bk" });
const app = new QueueTasks({ name: "bk", broker, env: false, config: { logsDefaultLevel: "warn" } });
app.task("noop", (_i: number) => null);
await broker.connection.ready();
const orig = broker.connection.run.bind(broker.connection);
let parts: string[] = [];
(broker.connection as any).run = async (...a: any[]) => { const t = performance.now(); const r = await orig(...a); parts.push(`${String(a[1]).trim().slice(0, 12).replace(/\s+/g, " ")}:${(performance.now() - t).toFixed(0)}`); return r; };
const origTx = broker.connection.transaction.bind(broker.connection);
(broker.connection as any).transaction = async (body: any, tx: any) => { const t = performance.now(); const r = await origTx(body, tx); parts.push(`tx:${(performance.now() - t).toFixed(0)}`); return r; };
for (let round = 0; round < 3; round++) {
  await broker.flushAll();
  for (let i = 0; i < 3000; i += 1000) {
    parts = [];
    const t = performance.now();
    await app.addTasks("noop", Array.from({ length: 1000 }, (_, j) => [i + j]));
    console.log(`chunk ${(performance.now() - t).toFixed(0)} ms: ${parts.join(" ")}`);
  }
}
await broker.flushAll();
await broker.stop();

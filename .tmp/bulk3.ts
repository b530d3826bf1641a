import { QueueTasks } from "../mod.ts";
import { PostgresBroker } from "../src/backends/postgres/mod.ts";
const url = "postgres://postgres@127.0.0.1:5432/qt_pgperf";
const broker = new PostgresBroker({ name: "bk", url, schema: "qt_bk" });
const app = new QueueTasks({ name: "bk", broker, env: false, config: { logsDefaultLevel: "warn" } });
app.task("noop", (_i: number) => null);
await broker.connection.ready();
await broker.flushAll();
const orig = broker.connection.run.bind(broker.connection);
(broker.connection as any).run = async (on: any, text: string, params: any[]) => {
  if (text.trim().startsWith("with input")) {
    const rows = await orig(on, "explain (analyze, verbose off) " + text, params);
    console.log(rows.map((r: any) => r["QUERY PLAN"]).join("\n"));
    throw new Error("stop");
  }
  return orig(on, text, params);
};
for (let k = 0; k < 2; k++) await app.addTasks("noop", Array.from({ length: 1000 }, (_, j) => [j])).catch(() => {});
await broker.stop();

import { QueueTasks } from "../mod.ts";
import { PostgresBroker } from "../src/backends/postgres/mod.ts";
const url = "postgres://postgres@127.0.0.1:5432/qt_pgperf";
const T0 = performance.now();
const log: string[] = [];
const mark = (s: string) => log.push(`${(performance.now() - T0).toFixed(2)} ${s}`);
class TB extends PostgresBroker {
  override async exchange(r: any) { mark(`ex> s${r.settlements.length} w${r.want} idle${r.idle}`); const x = await super.exchange(r); mark(`ex< c${x.claimed.length}`); return x; }
  override async waitForTasks(t: number, s: AbortSignal, c?: any) { mark(`wait> ${t}`); const x = await super.waitForTasks(t, s, c); mark(`wait< ${x?.claimed.length}`); return x; }
}
const broker = new TB({ name: "tl", url, schema: "qt_tl" });
const app = new QueueTasks({ name: "tl", broker, env: false, config: { maxTasksProcess: 10, logsDefaultLevel: "warn" } });
const pbroker = new PostgresBroker({ name: "tl", url, schema: "qt_tl" });
const papp = new QueueTasks({ name: "tl", broker: pbroker, env: false, config: { logsDefaultLevel: "warn" } });
app.task("noop", (_i: number) => { mark("run"); return null; });
const noop = papp.task("noop", (_i: number) => null);
await app.start();
await pbroker.connection.ready();
const times: number[] = [];
for (let i = 0; i < 60; i++) {
  if (i >= 50) mark(`---- add ${i}`);
  const t = performance.now();
  const h = await noop.addTask(i);
  if (i >= 50) mark("added");
  await h.value({ timeoutMs: 10000 });
  if (i >= 50) mark("result");
  times.push(performance.now() - t);
}
await app.stop(); await pbroker.stop();
const keep = log.slice(log.findIndex((l) => l.includes("---- add 50")));
console.log(keep.join("\n"));
times.sort((a, b) => a - b);
console.log("p50", times[30].toFixed(1));

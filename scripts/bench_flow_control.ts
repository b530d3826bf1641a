/**
 * A concurrency limit across worker processes (issue 19, "Measured"): a task registered with
 * `concurrency: { limit: 5 }` runs on 3 worker processes of 10 slots each; N tasks are sent and
 * the script reports how many ran at once at most. Each run INCRs a shared Redis counter when it
 * starts (the reply is the number running at that moment, itself included) and DECRs it when it
 * ends; the parent also samples the counter every few milliseconds. Both maxima must be <= 5.
 *
 *   deno run -A scripts/bench_flow_control.ts [--url redis://127.0.0.1:6379/0] [--n 300]
 *     [--limit 5] [--workers 3] [--run-ms 20]
 *
 * The app and the counter use a fresh name, deleted at the end.
 *
 * @module
 */
import { createClient } from "redis";
import { QueueTasks } from "../mod.ts";
import { cliArgs } from "./cli_args.ts";

const USAGE = "deno run -A scripts/bench_flow_control.ts [--url URL] [--n N] [--limit L] " +
  "[--workers W] [--run-ms MS]";
const args: Record<string, string> = {
  url: "redis://127.0.0.1:6379/0",
  n: "300",
  limit: "5",
  workers: "3",
  "run-ms": "20",
  role: "parent",
  name: "",
};
for (const { flag, value } of cliArgs(Deno.args, USAGE)) {
  const key = flag.replace(/^--/, "");
  if (!(key in args)) throw new Error(`unknown flag ${flag}\n${USAGE}`);
  args[key] = value();
}
const url = args.url;
const limit = Number(args.limit);
const runMs = Number(args["run-ms"]);

/** The app of a worker process: one task with the concurrency limit. */
function workerApp(name: string): QueueTasks {
  const app = new QueueTasks({
    name,
    brokerUrl: url,
    env: false,
    config: { maxTasksProcess: 10, logsDefaultLevel: "silent" },
  });
  const counter = `${name}:bench-running`;
  const client = createClient({ url });
  const ready = client.connect();
  app.task({ name: "limited", concurrency: { limit } }, async () => {
    await ready;
    const running = await client.incr(counter);
    await new Promise((resolve) => setTimeout(resolve, runMs));
    await client.decr(counter);
    return running;
  });
  return app;
}

if (args.role === "worker") {
  await workerApp(args.name).start();
  // Runs until the parent kills it.
  await new Promise(() => {});
}

const name = `bench-flow-${crypto.randomUUID().slice(0, 8)}`;
const children = [];
for (let i = 0; i < Number(args.workers); i++) {
  children.push(
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        import.meta.filename ?? "",
        "--role",
        "worker",
        "--name",
        name,
        "--url",
        url,
        "--limit",
        String(limit),
        "--run-ms",
        String(runMs),
      ],
      stdout: "inherit",
      stderr: "inherit",
    }).spawn(),
  );
}
// The producer registers the task too: the limit is written on the record at enqueue.
const producer = workerApp(name);
const counter = `${name}:bench-running`;
const sampler = createClient({ url });
await sampler.connect();
let sampledMax = 0;
let samples = 0;
let sampling = true;
const sampleLoop = (async () => {
  while (sampling) {
    sampledMax = Math.max(sampledMax, Number(await sampler.get(counter) ?? 0));
    samples++;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
})();
const started = performance.now();
const results = [];
for (let i = 0; i < Number(args.n); i++) results.push(await producer.addTask("limited", []));
let reportedMax = 0;
for (const result of results) {
  reportedMax = Math.max(reportedMax, Number(await result.value({ timeoutMs: 120_000 })));
}
const seconds = (performance.now() - started) / 1000;
sampling = false;
await sampleLoop;
for (const child of children) {
  child.kill("SIGTERM");
  await child.status;
}
await producer.flushAll();
await sampler.del(counter);
await sampler.quit();
await producer.stop({ graceMs: 0 });
console.log(
  `concurrency limit ${limit} across ${args.workers} worker processes (10 slots each), ${args.n} tasks of ${runMs} ms in ${
    seconds.toFixed(1)
  } s:\n  max running at a start (INCR reply): ${reportedMax}\n  max sampled: ${sampledMax} (${samples} samples)\n  ${
    reportedMax <= limit && sampledMax <= limit ? "OK: never more than the limit" : "VIOLATED"
  }`,
);
Deno.exit(reportedMax > limit || sampledMax > limit ? 1 : 0);

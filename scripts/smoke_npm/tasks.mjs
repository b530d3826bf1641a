/**
 * The app and tasks of the npm smoke test (scripts/smoke_npm.sh), shared by worker.mjs and
 * producer.mjs. Plain JavaScript importing `@qtasks/qtasks`, the JSR name, as the Deno run does
 * (there it is jsr:@qtasks/qtasks linked to the repository); the Node and Bun runs get copies
 * importing `qtasks`, the npm name, from the installed tarball.
 *
 * Environment: SMOKE_APP (app name, required), SMOKE_REDIS_URL (default redis://127.0.0.1:6379).
 *
 * @module
 */
import { getRuntime, QueueTasks } from "@qtasks/qtasks";

const runtime = getRuntime();
const name = runtime.env("SMOKE_APP");
if (!name) throw new Error("SMOKE_APP is required");

/** The app, on Redis; config from code only. */
export const app = new QueueTasks({
  name,
  brokerUrl: runtime.env("SMOKE_REDIS_URL") ?? "redis://127.0.0.1:6379",
  env: false,
  config: { logsDefaultLevel: "warn", shutdownGraceMs: 5_000 },
});

/** A sync task. */
export const add = app.task("add", (a, b) => a + b);

/** An async task with its context: tells which runtime ran it. */
export const whoRuns = app.task({ name: "who_runs", echo: true }, async (ctx, label) => {
  await Promise.resolve();
  return { label, runtime: getRuntime().name, attempt: ctx.attempt };
});

/** A task that fails. */
export const fail = app.task("fail", (message) => {
  throw new Error(message);
});

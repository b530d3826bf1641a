/**
 * An app module for the `qtasks` command line (README, "Command line"). It only defines: the
 * CLI imports it and runs what you ask for.
 *
 *   deno task qtasks worker examples/cli_app.ts            # or: node cli.ts worker …, bun cli.ts …
 *   deno task qtasks timer examples/cli_app.ts
 *   deno task qtasks add add --args '[2, 3]' --wait --app examples/cli_app.ts
 *
 * Redis: QTASKS_REDIS_URL, default redis://127.0.0.1:6379.
 */
import { getRuntime, QueueTasks, Timer } from "../mod.ts";

/** The app (the CLI finds it as the `app` export). */
export const app: QueueTasks = new QueueTasks({
  name: "shop",
  brokerUrl: getRuntime().env("QTASKS_REDIS_URL") ?? "redis://127.0.0.1:6379",
});

/** Adds two numbers. */
export const add = app.task(
  { name: "add", description: "adds two numbers" },
  (a: number, b: number) => a + b,
);

/** Sends a (pretend) report; gives up after 5 s, retries twice. */
export const report = app.task(
  { name: "report", maxTime: 5_000, retry: 2, priority: 5 },
  async (kind: string) => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    return { kind, sentAt: new Date().toISOString() };
  },
);

/** The schedules (the CLI finds it as the `timer` export). */
export const timer: Timer = new Timer({ app });
timer.addTask(report, { cron: "*/10 * * * * *", args: ["every-10s"] });
timer.addTask(report, {
  cron: "0 9 * * 1-5",
  args: ["daily"],
  timezone: "Europe/Berlin",
  catchUp: "once",
});

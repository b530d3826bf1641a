/**
 * The app of docs/operations.md: two tasks, one of which fails for a negative amount and logs
 * what it does with `ctx.log`.
 *
 *   deno task qtasks worker examples/ops_app.ts
 *   deno task qtasks list --status error --app examples/ops_app.ts
 *
 * Redis: QTASKS_REDIS_URL, default redis://127.0.0.1:6379.
 */
import { getRuntime, QueueTasks, type TaskContext } from "../mod.ts";

/** The app (the CLI finds it as the `app` export). */
export const app: QueueTasks = new QueueTasks({
  name: getRuntime().env("OPS_APP") ?? "shop-ops",
  brokerUrl: getRuntime().env("QTASKS_REDIS_URL") ?? "redis://127.0.0.1:6379",
});

/** Charges a card (pretend): refuses a negative amount. */
export const charge = app.task(
  { name: "charge", echo: true, retry: 0 },
  async (ctx: TaskContext, order: string, cents: number) => {
    await ctx.log(`charging order ${order}: ${cents} cents`);
    if (cents < 0) {
      await ctx.log("refused by the bank", "error");
      throw new RangeError(`amount ${cents} is negative`);
    }
    await ctx.log("charged");
    return { order, cents };
  },
);

/** Sends an email (pretend). */
export const email = app.task("email", (to: string) => `sent to ${to}`);

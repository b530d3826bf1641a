/**
 * The app and tasks shared by examples/worker.ts and examples/producer.ts (not run by itself).
 * The app lives on Redis: QTASKS_REDIS_URL, default redis://127.0.0.1:6379.
 *
 *   deno run -A examples/worker.ts      # terminal 1: runs the tasks (Ctrl+C to stop)
 *   deno run -A examples/producer.ts    # terminal 2: enqueues tasks and prints the results
 *
 * (or `bun examples/…` / `node examples/…`)
 */
import { getRuntime, QueueTasks, type TaskContext } from "../mod.ts";

/** Where Redis is. */
export const brokerUrl: string = getRuntime().env("QTASKS_REDIS_URL") ??
  "redis://127.0.0.1:6379";

/** The app: its name is the namespace of its Redis keys. */
export const app: QueueTasks = new QueueTasks({ name: "examples", brokerUrl });

/** Resolves after `ms`, or rejects as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

/** A synchronous task: `add.addTask(1, 2)` only accepts numbers, and its result is a number. */
export const add = app.task("add", (a: number, b: number) => a + b);

/** An async task with a default priority of 1 (lower numbers run first). */
export const sendEmail = app.task(
  { name: "send_email", priority: 1 },
  async (to: string, subject: string) => {
    await new Promise((resolve) => setTimeout(resolve, 20)); // pretend to talk to a mail server
    return { to, subject, sentAt: new Date().toISOString() };
  },
);

/** A task with a 2 s time limit that gets its context (uuid, attempt, abort signal) first. */
export const resizeImage = app.task(
  { name: "resize_image", maxTime: 2_000, echo: true },
  async (ctx: TaskContext, url: string, width: number) => {
    await sleep(50, ctx.signal); // pretend to work; stops early if maxTime is exceeded
    return { url, width, attempt: ctx.attempt };
  },
);

/**
 * One run of a task as its middlewares see it: who runs what, and the arguments and result they
 * may change. A new one is made for every run of a task that has middlewares.
 *
 * @example A middleware that reads the call and changes its arguments
 * ```ts
 * import type { TaskCall } from "@qtasks/qtasks";
 *
 * async function trim(call: TaskCall, next: () => Promise<void>): Promise<void> {
 *   call.args = call.args.map((arg) => (typeof arg === "string" ? arg.trim() : arg));
 *   await next();
 *   console.log(`${call.taskName} #${call.attempt} on ${call.workerId}:`, call.result);
 * }
 * ```
 */
export interface TaskCall {
  /** The app name. */
  readonly appName: string;
  /** The worker that runs the task. */
  readonly workerId: string;
  /** The registered task name. */
  readonly taskName: string;
  /** The id of this task. */
  readonly uuid: string;
  /** Its priority. */
  readonly priority: number;
  /** Which attempt this is: 1 on the first run, then 2, 3, … on its retries. */
  readonly attempt: number;
  /** Aborts when the task is cancelled, the worker shuts down or the lease is lost. */
  readonly signal: AbortSignal;
  /** The arguments the function will be called with: a before-middleware may replace them. */
  args: unknown[];
  /**
   * The result: set once the function returned (the list of values a generator yielded), then
   * stored as JSON. A middleware may replace it; one that skips `next()` sets it itself.
   */
  result: unknown;
}

/**
 * A task middleware, Koa/Hono style: it gets the {@linkcode TaskCall} and `next`, which runs the
 * rest of the chain. What it does before `await next()` happens before the task runs; what it
 * does after, after. It may change `call.args` before `next()`, change `call.result` after it,
 * catch errors thrown through it, or not call it at all (the function then does not run, and
 * `call.result` is what the middleware set). A middleware that throws ends the task as `error`.
 *
 * "before" middlewares wrap the run of the function; "after" middlewares run once it succeeded,
 * before the result is stored. Give them per task (`middlewaresBefore`, `middlewaresAfter`) or to
 * every task with `app.addMiddleware(middleware, position)`; app-wide ones run outside
 * (before) the task's own. Each runs once per run of the task.
 *
 * @example A timing middleware that wraps the result
 * ```ts
 * import { QueueTasks, type TaskMiddleware } from "@qtasks/qtasks";
 *
 * const timed: TaskMiddleware = async (call, next) => {
 *   const started = performance.now();
 *   await next();
 *   call.result = { value: call.result, ms: performance.now() - started };
 * };
 *
 * const app = new QueueTasks({ name: "docs-middleware" });
 * const add = app.task(
 *   { name: "add", middlewaresBefore: [timed] },
 *   (a: number, b: number) => a + b,
 * );
 * await app.start();
 * const job = await add.addTask(1, 2);
 * console.log(await job.value()); // { value: 3, ms: 0.01 }
 * await app.stop();
 * ```
 */
export type TaskMiddleware = (call: TaskCall, next: () => Promise<void>) => void | Promise<void>;

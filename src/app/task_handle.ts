import type { AsyncResult } from "./async_result.ts";
import type { TaskDefinition } from "../ports/task_executor.ts";
import type { TaskSignature } from "./task_signature.ts";

/**
 * Per-call options of `addTask`.
 *
 * @example
 * ```ts
 * import type { AddTaskOptions } from "@qtasks/qtasks";
 *
 * const options: AddTaskOptions = { priority: -1 };
 * const later: AddTaskOptions = { delayMs: 60_000 }; // in one minute
 * const tonight: AddTaskOptions = { runAt: new Date("2030-01-01T22:00:00Z") };
 * ```
 */
export interface AddTaskOptions {
  /** Overrides the task's default priority for this call; lower runs first. */
  priority?: number;
  /** Extra string fields stored on the record. */
  extra?: Record<string, string>;
  /**
   * The task's uuid (a UUID), as an idempotency key: adding a task whose uuid exists already
   * resolves with the existing task instead of adding a second one. Default: a new random one.
   */
  uuid?: string;
  /**
   * Run no earlier than this many milliseconds from now (≥ 0). The record is stored at once, with
   * status `new` and `runAt`; workers claim the task once it is due. Not with `runAt`.
   */
  delayMs?: number;
  /**
   * Run no earlier than this time (a `Date` or milliseconds since the epoch); a time in the past
   * runs at once. Turned into a delay from now when enqueued, so it is measured against the
   * backend's clock (Redis server time). Not with `delayMs`.
   */
  runAt?: Date | number;
}

/**
 * Enqueues tasks of one registered function. Returned by `app.task(...)`; its `addTask` takes
 * exactly the function's argument types, and its results have the function's return type.
 *
 * @typeParam A The function's parameters (without the context when `echo` is on).
 * @typeParam R The function's awaited return type.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-handle" });
 * const greet = app.task("greet", (name: string, times: number) => `hi ${name}`.repeat(times));
 * await app.start();
 * const job = await greet.addTask("ada", 2); // greet.addTask(2, "ada") does not compile
 * const text: string = await job.value();
 * const urgent = await greet.withOptions({ priority: -10 }).addTask("bob", 1);
 * console.log(text, await urgent.value());
 * await app.stop();
 * ```
 */
export interface TaskHandle<A extends unknown[], R> {
  /** The registered name. */
  readonly name: string;
  /** The registered definition. */
  readonly definition: TaskDefinition;
  /** Enqueues one task with these arguments. */
  addTask(...args: A): Promise<AsyncResult<R>>;
  /** Enqueues many tasks at once, one argument list each (see `QueueTasks.addTasks`). */
  addTasks(argsList: A[]): Promise<AsyncResult<R>[]>;
  /**
   * A signature of this task with these arguments (Celery's `s`), not enqueued: an item of
   * `app.group([...])` or the first step of `app.chain(...)`. It keeps the handle's options.
   */
  s(...args: A): TaskSignature<R>;
  /** Returns a handle whose `addTask` applies these options. */
  withOptions(options: AddTaskOptions): TaskHandle<A, R>;
  /**
   * Calls the function in this process, without the queue (for tests): arguments go through the
   * task's `schema`, an `echo` task gets a context (with no record), and a generator's values
   * are collected as a worker would.
   */
  call(...args: A): Promise<R>;
}

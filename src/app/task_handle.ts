import type { AsyncResult } from "./async_result.ts";
import type { TaskDefinition } from "../ports/task_executor.ts";
import type { TaskSignature } from "./task_signature.ts";
import type { AddTaskOptions } from "./add_task_options.ts";

// Re-exported where it was first declared, so existing imports keep working.
export type { AddTaskOptions } from "./add_task_options.ts";

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

import type { AddTaskOptions } from "./add_task_options.ts";

/**
 * A task call not enqueued yet: a task name, its arguments and its per-call options (priority,
 * extra fields). Made by a handle's `s(...args)` (Celery's signature); a group takes several, a
 * chain starts with one. `R` is the task's result type, which flows into the group's or chain's.
 *
 * @typeParam R The task's result.
 *
 * @example
 * ```ts
 * import { QueueTasks, type TaskSignature } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-signature" });
 * const add = app.task("add", (a: number, b: number) => a + b);
 * const call: TaskSignature<number> = add.s(1, 2);
 * console.log(call.taskName, call.args); // add [1, 2]
 * ```
 */
export interface TaskSignature<R> {
  /** The registered task name. */
  readonly taskName: string;
  /** Its arguments. */
  readonly args: readonly unknown[];
  /** The handle's options: priority and extra fields (a delay or uuid is refused in a flow). */
  readonly options: AddTaskOptions;
  /** The result type; never set (types only). */
  readonly "~result"?: R;
}

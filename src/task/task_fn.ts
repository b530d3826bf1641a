import type { Injected, TaskDependencies } from "./depends.ts";
import type { TaskContext } from "./task_context.ts";

/** A task function: its arguments are what `addTask` takes. */
export type TaskFn<A extends unknown[], R> = (...args: A) => R;

/** A task function registered with `echo: true`: the context comes first. */
export type EchoTaskFn<A extends unknown[], R> = (context: TaskContext, ...args: A) => R;

/** A task function registered with `inject`: the dependencies come first. */
export type InjectTaskFn<A extends unknown[], R, I extends TaskDependencies> = (
  dependencies: Injected<I>,
  ...args: A
) => R;

/** A task function registered with `echo: true` and `inject`: the context, then the dependencies. */
export type EchoInjectTaskFn<A extends unknown[], R, I extends TaskDependencies> = (
  context: TaskContext,
  dependencies: Injected<I>,
  ...args: A
) => R;

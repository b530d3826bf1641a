import type { Injected, TaskDependencies } from "../model/depends.ts";
import type { TaskContext } from "./task_context.ts";

/**
 * A task function: its arguments are what `addTask` takes.
 *
 * @example
 * ```ts
 * import type { TaskFn } from "@qtasks/qtasks/ports";
 *
 * const add: TaskFn<[number, number], number> = (a, b) => a + b;
 * ```
 */
export type TaskFn<A extends unknown[], R> = (...args: A) => R;

/**
 * A task function registered with `echo: true`: the context comes first.
 *
 * @example
 * ```ts
 * import type { EchoTaskFn } from "@qtasks/qtasks/ports";
 *
 * const greet: EchoTaskFn<[string], string> = (ctx, name) => `${ctx.taskName}: hi ${name}`;
 * ```
 */
export type EchoTaskFn<A extends unknown[], R> = (context: TaskContext, ...args: A) => R;

/**
 * A task function registered with `inject`: the dependencies come first.
 *
 * @example
 * ```ts
 * import { depends } from "@qtasks/qtasks";
 * import type { InjectTaskFn } from "@qtasks/qtasks/ports";
 *
 * const inject = { base: depends(() => 10) };
 * const offset: InjectTaskFn<[number], number, typeof inject> = ({ base }, n) => base + n;
 * ```
 */
export type InjectTaskFn<A extends unknown[], R, I extends TaskDependencies> = (
  dependencies: Injected<I>,
  ...args: A
) => R;

/**
 * A task function registered with `echo: true` and `inject`: the context, then the dependencies.
 *
 * @example
 * ```ts
 * import { depends } from "@qtasks/qtasks";
 * import type { EchoInjectTaskFn } from "@qtasks/qtasks/ports";
 *
 * const inject = { base: depends(() => 10) };
 * const offset: EchoInjectTaskFn<[number], string, typeof inject> = (ctx, { base }, n) =>
 *   `${ctx.taskName}: ${base + n}`;
 * ```
 */
export type EchoInjectTaskFn<A extends unknown[], R, I extends TaskDependencies> = (
  context: TaskContext,
  dependencies: Injected<I>,
  ...args: A
) => R;

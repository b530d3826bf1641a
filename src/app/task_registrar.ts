import type { ArgsSchema, SchemaInput, SchemaOutput } from "../model/task_schema.ts";
import type { TaskDependencies } from "../model/depends.ts";
import type { TaskOptions } from "../ports/task_executor.ts";
import type { EchoInjectTaskFn, EchoTaskFn, InjectTaskFn, TaskFn } from "../ports/task_fn.ts";
import type { TaskResult, YieldOf } from "../model/task_result.ts";
import type { BindableTaskHandle } from "./detached_task.ts";
import type { SharedTaskHandle } from "./shared_task_handle.ts";
import type { TaskHandle } from "./task_handle.ts";

/**
 * The options of a typed registration: `echo`, `schema` and `generateHandler` drive the types of
 * the function and of the handle.
 *
 * @typeParam E Whether `echo` is on.
 * @typeParam S The `schema`, or `undefined`.
 * @typeParam R The function's return type.
 * @typeParam H What `generateHandler` returns.
 *
 * @example
 * ```ts
 * import type { TypedOptions } from "@qtasks/qtasks/ports";
 *
 * const options: TypedOptions<false, undefined, number, never> = { name: "add", priority: 1 };
 * ```
 */
export type TypedOptions<E, S, R, H> = Omit<TaskOptions, "echo" | "schema" | "generateHandler"> & {
  /** Whether the function receives a `TaskContext` first. */
  echo?: E;
  /** A Standard Schema of the argument list. */
  schema?: S;
  /** Applied to each value a generator task yields. */
  generateHandler?: (value: YieldOf<R>) => H;
};

/**
 * The handle each registration returns, by who registers: an app, a router, or `sharedTask`.
 *
 * @example
 * ```ts
 * import type { HandleKinds } from "@qtasks/qtasks/ports";
 *
 * type RouterHandle = HandleKinds<[number], number>["router"];
 * ```
 */
export interface HandleKinds<A extends unknown[], R> {
  /** `app.task`. */
  app: TaskHandle<A, R>;
  /** `router.task`. */
  router: BindableTaskHandle<A, R>;
  /** `sharedTask`. */
  shared: SharedTaskHandle<A, R>;
}

/**
 * The typed forms of a task registration, shared by `Router.task` and `sharedTask` (and the same
 * as `app.task`'s): `(fn)`, `(name, fn)`, `(options, fn)`; with `echo: true` the function gets a
 * `TaskContext` first, with `inject` its dependencies' values as one object (after the context),
 * with a `schema` the handle takes the schema's input types and the function gets its output.
 *
 * @typeParam K Which handle it returns (see {@linkcode HandleKinds}).
 *
 * @example
 * ```ts
 * import { Router } from "@qtasks/qtasks";
 * import type { TaskRegistrar } from "@qtasks/qtasks/ports";
 *
 * const register: TaskRegistrar<"router"> = new Router().task;
 * const add = register("add", (a: number, b: number) => a + b);
 * ```
 */
export interface TaskRegistrar<K extends keyof HandleKinds<[], unknown>> {
  /** A function, named after itself. */
  <A extends unknown[], R>(fn: TaskFn<A, R>): HandleKinds<A, TaskResult<R>>[K];
  /** A function under a name. */
  <A extends unknown[], R>(name: string, fn: TaskFn<A, R>): HandleKinds<A, TaskResult<R>>[K];
  /** With a context and dependencies. */
  <A extends unknown[], R, I extends TaskDependencies, H = never>(
    options: TypedOptions<true, undefined, R, H> & { echo: true; inject: I },
    fn: EchoInjectTaskFn<A, R, I>,
  ): HandleKinds<A, TaskResult<R, H>>[K];
  /** With dependencies. */
  <A extends unknown[], R, I extends TaskDependencies, H = never>(
    options: TypedOptions<false, undefined, R, H> & { echo?: false; inject: I },
    fn: InjectTaskFn<A, R, I>,
  ): HandleKinds<A, TaskResult<R, H>>[K];
  /** With a context and a schema. */
  <S extends ArgsSchema, R, H = never>(
    options: TypedOptions<true, S, R, H> & { echo: true; schema: S },
    fn: EchoTaskFn<SchemaOutput<S>, R>,
  ): HandleKinds<SchemaInput<S>, TaskResult<R, H>>[K];
  /** With a schema. */
  <S extends ArgsSchema, R, H = never>(
    options: TypedOptions<false, S, R, H> & { schema: S },
    fn: TaskFn<SchemaOutput<S>, R>,
  ): HandleKinds<SchemaInput<S>, TaskResult<R, H>>[K];
  /** With a context. */
  <A extends unknown[], R, H = never>(
    options: TypedOptions<true, undefined, R, H> & { echo: true },
    fn: EchoTaskFn<A, R>,
  ): HandleKinds<A, TaskResult<R, H>>[K];
  /** With options. */
  <A extends unknown[], R, H = never>(
    options: TypedOptions<false, undefined, R, H>,
    fn: TaskFn<A, R>,
  ): HandleKinds<A, TaskResult<R, H>>[K];
}

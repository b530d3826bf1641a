/**
 * What a generator task's result is, from what it yields (`Y`, after `generateHandler`) and
 * returns (`Ret`): the list of yielded values, or `{ values, returned }` when it returns a value
 * other than `undefined`.
 *
 * @typeParam Y The type of the values (after the handler).
 * @typeParam Ret The generator's return type.
 *
 * @example
 * ```ts
 * import type { GeneratorTaskResult } from "@qtasks/qtasks/ports";
 *
 * const list: GeneratorTaskResult<number, void> = [3, 2, 1];
 * const both: GeneratorTaskResult<number, string> = { values: [3, 2, 1], returned: "liftoff" };
 * ```
 */
export type GeneratorTaskResult<Y, Ret> = [Ret] extends [never] ? Y[]
  : Ret extends void | undefined ? Y[]
  : { values: Y[]; returned: Ret };

/**
 * The values a task function of return type `R` yields (`never` when it is not a generator).
 *
 * @typeParam R The function's return type.
 *
 * @example
 * ```ts
 * import type { YieldOf } from "@qtasks/qtasks/ports";
 *
 * function* countdown(): Generator<number, void> {
 *   yield 1;
 * }
 * const value: YieldOf<ReturnType<typeof countdown>> = 1;
 * ```
 */
export type YieldOf<R> = R extends
  Generator<infer Y, unknown, unknown> | AsyncGenerator<infer Y, unknown, unknown> ? Y : never;

/**
 * The stored result of a task function of return type `R`: the awaited value of a plain or async
 * function, and for a generator its {@linkcode GeneratorTaskResult} (with `H`, the return type of
 * its `generateHandler`, as the values' type when there is one).
 *
 * @typeParam R The function's return type.
 * @typeParam H The return type of `generateHandler` (`never`: none).
 *
 * @example
 * ```ts
 * import type { TaskResult } from "@qtasks/qtasks/ports";
 *
 * const plain: TaskResult<Promise<number>> = 3;
 * const generated: TaskResult<Generator<string, number>> = { values: ["a"], returned: 1 };
 * const handled: TaskResult<Generator<string, void>, Promise<number>> = [1, 2];
 * ```
 */
export type TaskResult<R, H = never> = R extends
  Generator<infer Y, infer Ret, unknown> | AsyncGenerator<infer Y, infer Ret, unknown>
  ? GeneratorTaskResult<[H] extends [never] ? Y : Awaited<H>, Ret>
  : Awaited<R>;

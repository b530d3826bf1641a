/**
 * Compile-time assertions for tests: `assertType<Equals<A, B>>(true)` compiles only when the two
 * types are the same.
 *
 * @module
 */

/** `true` when `A` and `B` are the same type, else `false`. */
export type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2)
  ? true
  : false;

/** Compiles only when `T` is `true` (pass `true`). */
export function assertType<T extends true>(_proof: T): void {}

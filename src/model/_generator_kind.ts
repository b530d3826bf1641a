/**
 * Recognising a generator object: shared by `depends` (a dependency given as a generator) and the
 * executor (a generator task). Internal.
 *
 * @module
 */

/**
 * The kind of generator object `value` is: what a `function*` or `async function*` returns. Only
 * generator objects count (an array, a Map or another iterable is a plain result).
 */
export function generatorKind(value: unknown): "sync" | "async" | undefined {
  if (
    value === null || typeof value !== "object" ||
    typeof (value as { next?: unknown }).next !== "function"
  ) return undefined;
  const tag = Object.prototype.toString.call(value);
  return tag === "[object Generator]"
    ? "sync"
    : tag === "[object AsyncGenerator]"
    ? "async"
    : undefined;
}

import { UnrecoverableError } from "./errors/unrecoverable_error.ts";
import type { TaskErrorInfo } from "./task_record.ts";

/**
 * How long a task waits before each retry (the `backoff` task option).
 *
 * - `fixed`: `delayMs` before every retry.
 * - `exponential`: `delayMs × 2^(attempt − 1)`: 1×, 2×, 4×, … after attempts 1, 2, 3, …
 *
 * Either is capped at `maxDelayMs` (default 3 600 000: one hour), then spread by `jitter`
 * (0 to 1, default 0): the delay is multiplied by a random factor between `1 − jitter` and
 * `1 + jitter` (and never exceeds `maxDelayMs`), so that tasks that failed together do not all
 * retry at the same moment. Without a `backoff` option a task uses {@linkcode DEFAULT_BACKOFF}.
 *
 * @example
 * ```ts
 * import type { BackoffOptions } from "@qtasks/qtasks/ports";
 *
 * const backoff: BackoffOptions = { type: "exponential", delayMs: 500, maxDelayMs: 60_000, jitter: 0.1 };
 * ```
 */
export interface BackoffOptions {
  /** `fixed` or `exponential`. */
  type: "fixed" | "exponential";
  /** The delay before the first retry, in milliseconds (≥ 0). */
  delayMs: number;
  /** The longest delay, in milliseconds (default one hour). */
  maxDelayMs?: number;
  /** Random spread, 0 to 1 (default 0): ±20 % for 0.2. */
  jitter?: number;
}

/**
 * The backoff of a task that has retries and no `backoff` option: exponential from 1 s, at most
 * one hour, with ±20 % jitter (about 1 s, 2 s, 4 s, … before retries 1, 2, 3, …).
 *
 * @example
 * ```ts
 * import { DEFAULT_BACKOFF } from "./retry_policy.ts";
 *
 * console.log(DEFAULT_BACKOFF.type, DEFAULT_BACKOFF.delayMs); // "exponential" 1000
 * ```
 */
export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({
  type: "exponential",
  delayMs: 1_000,
  maxDelayMs: 3_600_000,
  jitter: 0.2,
});

const DEFAULT_MAX_DELAY_MS = 3_600_000;

/**
 * The delay before the retry that follows attempt `attempt` (1 for the first run), in whole
 * milliseconds. A pure function: pass `random` to make the jitter predictable.
 *
 * @param options The task's backoff ({@linkcode DEFAULT_BACKOFF} when it has none).
 * @param attempt The attempt that failed, from 1.
 * @param random A source of numbers in [0, 1) (default `Math.random`).
 * @returns The delay in milliseconds, between 0 and `maxDelayMs`.
 *
 * @example
 * ```ts
 * import { backoffDelay } from "./retry_policy.ts";
 *
 * const exponential = { type: "exponential", delayMs: 100, maxDelayMs: 1_000 } as const;
 * console.log([1, 2, 3, 4, 5].map((attempt) => backoffDelay(exponential, attempt))); // [100, 200, 400, 800, 1000]
 * // With jitter 0.5, random() = 0 gives the lowest delay and random() → 1 the highest.
 * console.log(backoffDelay({ type: "fixed", delayMs: 100, jitter: 0.5 }, 1, () => 0)); // 50
 * ```
 */
export function backoffDelay(
  options: Readonly<BackoffOptions>,
  attempt: number,
  random: () => number = Math.random,
): number {
  const max = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const steps = Math.max(0, Math.floor(attempt) - 1);
  const base = options.type === "exponential"
    ? options.delayMs * 2 ** Math.min(steps, 1_000)
    : options.delayMs;
  const jitter = options.jitter ?? 0;
  const spread = jitter > 0 ? 1 + jitter * (2 * random() - 1) : 1;
  return Math.max(0, Math.min(max, Math.round(Math.min(max, base) * spread)));
}

/**
 * Checks a `backoff` option, for task registration.
 *
 * @param backoff The option.
 * @param context The start of the error message (`Cannot register task "x"`).
 * @throws {TypeError} When it is not an object with a known type.
 * @throws {RangeError} When a number is out of range.
 *
 * @example
 * ```ts
 * import { checkBackoff } from "./retry_policy.ts";
 *
 * checkBackoff({ type: "fixed", delayMs: 10 }, 'Cannot register task "x"'); // fine
 * ```
 */
export function checkBackoff(backoff: unknown, context: string): void {
  if (backoff === null || typeof backoff !== "object") {
    throw new TypeError(`${context}: backoff must be an object { type, delayMs, … }`);
  }
  const { type, delayMs, maxDelayMs, jitter } = backoff as Partial<BackoffOptions>;
  if (type !== "fixed" && type !== "exponential") {
    throw new TypeError(
      `${context}: backoff.type must be "fixed" or "exponential", got ${String(type)}`,
    );
  }
  const nonNegative = (value: unknown) =>
    typeof value === "number" && Number.isFinite(value) && value >= 0;
  if (!nonNegative(delayMs)) {
    throw new RangeError(`${context}: backoff.delayMs must be a number of milliseconds >= 0`);
  }
  if (maxDelayMs !== undefined && !nonNegative(maxDelayMs)) {
    throw new RangeError(`${context}: backoff.maxDelayMs must be a number of milliseconds >= 0`);
  }
  if (jitter !== undefined && !(nonNegative(jitter) && jitter <= 1)) {
    throw new RangeError(`${context}: backoff.jitter must be between 0 and 1`);
  }
}

/** Error codes that another attempt cannot fix. */
const NEVER_RETRIED: ReadonlySet<string> = new Set([
  "UNRECOVERABLE",
  "INVALID_PAYLOAD",
  "INVALID_ARGUMENTS",
  "UNKNOWN_TASK",
  "DELIVERY_LIMIT",
]);

/**
 * Whether a failed attempt may be retried (its task having retries left): never for an
 * {@linkcode UnrecoverableError} (or a subclass), nor for errors another attempt cannot fix
 * (codes `INVALID_PAYLOAD`, `INVALID_ARGUMENTS`, `UNKNOWN_TASK`, `DELIVERY_LIMIT`); with `retryOn`, only for
 * instances of one of its classes, subclasses included. When the thrown value is not known (an
 * executor that does not report it), `retryOn` is matched by class name against `error.type`.
 *
 * @param retryOn The task's `retryOn` option (`undefined`: every error).
 * @param error The stored error.
 * @param thrown What the task threw, when known.
 * @returns Whether to retry.
 *
 * @example
 * ```ts
 * import { TaskTimeoutError, UnrecoverableError } from "@qtasks/qtasks";
 * import { isRetryable } from "./retry_policy.ts";
 *
 * class HttpError extends Error {}
 * class BadGateway extends HttpError {}
 * const thrown = new BadGateway("502");
 * console.log(isRetryable([HttpError], { type: "Error", message: "502" }, thrown)); // true
 * console.log(isRetryable([TypeError], { type: "Error", message: "502" }, thrown)); // false
 * const fatal = new UnrecoverableError("no");
 * console.log(isRetryable(undefined, { type: fatal.name, message: "no", code: fatal.code }, fatal)); // false
 * const timeout = new TaskTimeoutError("t", 10);
 * console.log(isRetryable(undefined, { type: timeout.name, message: "", code: timeout.code })); // true
 * ```
 */
export function isRetryable(
  retryOn: ReadonlyArray<new (...args: never[]) => Error> | undefined,
  error: TaskErrorInfo,
  thrown?: unknown,
): boolean {
  if (thrown instanceof UnrecoverableError) return false;
  if (error.code !== undefined && NEVER_RETRIED.has(error.code)) return false;
  if (retryOn === undefined) return true;
  if (thrown !== undefined) return retryOn.some((type) => thrown instanceof type);
  return retryOn.some((type) => type.name === error.type);
}

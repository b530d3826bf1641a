/**
 * The clock a {@linkcode Timer} reads and sleeps on. The default is the system clock
 * ({@linkcode systemClock}); tests pass a clock they move by hand, so no test sleeps.
 *
 * @example A clock moved by hand
 * ```ts
 * import type { TimerClock } from "@qtasks/qtasks/ports";
 *
 * let now = Date.UTC(2030, 0, 1);
 * const waiting: Array<{ at: number; callback: () => unknown }> = [];
 * const clock: TimerClock = {
 *   now: () => now,
 *   setTimer(callback, ms) {
 *     const entry = { at: now + ms, callback };
 *     waiting.push(entry);
 *     return () => void waiting.splice(waiting.indexOf(entry), 1);
 *   },
 * };
 * ```
 */
export interface TimerClock {
  /** The current time, in ms since the epoch. */
  now(): number;
  /**
   * Calls `callback` once, `ms` from now; returns a function that cancels it. A clock for tests
   * may await what the callback returns (the Timer's fires).
   */
  setTimer(callback: () => unknown, ms: number): () => void;
}

/**
 * The system clock: `Date.now()` and `setTimeout`.
 *
 * @example
 * ```ts
 * import { systemClock } from "@qtasks/qtasks/ports";
 *
 * const cancel = systemClock.setTimer(() => console.log("never"), 60_000);
 * cancel();
 * console.log(systemClock.now() > 0); // true
 * ```
 */
export const systemClock: TimerClock = Object.freeze({
  now: () => Date.now(),
  setTimer(callback: () => unknown, ms: number): () => void {
    const handle = setTimeout(() => void callback(), ms);
    return () => clearTimeout(handle);
  },
});

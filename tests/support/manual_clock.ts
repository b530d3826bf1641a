/**
 * A {@linkcode TimerClock} moved by the test: `advance` runs the timers that come due, in time
 * order, awaiting each callback (the Timer's fires), so a test never sleeps.
 *
 * @module
 */
import type { TimerClock } from "../../src/ports/mod.ts";

interface Pending {
  at: number;
  order: number;
  callback: () => unknown;
}

/** A clock that only moves when told to. */
export class ManualClock implements TimerClock {
  #now: number;
  #pending: Pending[] = [];
  #order = 0;

  /** @param start The time it shows first (ms since the epoch). */
  constructor(start: number) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => unknown, ms: number): () => void {
    const entry: Pending = { at: this.#now + Math.max(0, ms), order: this.#order++, callback };
    this.#pending.push(entry);
    return () => {
      const index = this.#pending.indexOf(entry);
      if (index >= 0) this.#pending.splice(index, 1);
    };
  }

  /** How many timers wait. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Moves forward by `ms`, running every timer due on the way (awaited, in order). */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      this.#pending.sort((a, b) => a.at - b.at || a.order - b.order);
      const next = this.#pending[0];
      if (!next || next.at > target) break;
      this.#pending.shift();
      this.#now = Math.max(this.#now, next.at);
      await next.callback();
    }
    this.#now = target;
  }

  /** Jumps forward by `ms` without running any timer (a process that was suspended). */
  jump(ms: number): void {
    this.#now += ms;
  }
}

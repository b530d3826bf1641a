/**
 * The task module of scripts/bench_pool.ts: each pool thread imports it.
 *
 * @module
 */
import { createLogger, QueueTasks } from "../../mod.ts";

/** About `iterations` rounds of a pure-JS hash (xorshift-multiply over a 32-bit state). */
export function hash(iterations: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < iterations; i++) {
    h ^= i;
    h = Math.imul(h, 0x01000193);
    h ^= h >>> 13;
  }
  return h >>> 0;
}

/** Registers the benchmark's tasks. */
export function registerBenchTasks(app: QueueTasks): void {
  app.task("hash", (iterations: number) => hash(iterations));
  app.task("tiny", (a: number, b: number) => a + b);
}

export const app: QueueTasks = new QueueTasks({
  name: "bench-pool",
  env: false,
  logger: createLogger("silent"),
});
registerBenchTasks(app);

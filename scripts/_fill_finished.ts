/**
 * Fills a Redis broker with N finished tasks through the real scripts (enqueue_bulk, then
 * exchanges that claim and settle them: 90% success, 10% error, round-robin over the task
 * names), for the query and dashboard benchmarks (scripts/bench_query.ts, scripts/bench_web.ts).
 *
 * @module
 */
import type { RedisBroker } from "../src/backends/redis/mod.ts";
import type { NewTask, Settlement } from "../src/ports/mod.ts";

/**
 * Stores `n` finished tasks, 500 per batch, printing progress on standard error.
 *
 * @param broker A started broker (its app's keys are written).
 * @param n How many tasks.
 * @param names The task names, used in turn.
 */
export async function fillFinished(
  broker: RedisBroker,
  n: number,
  names: readonly string[],
): Promise<void> {
  const fillStart = performance.now();
  const BATCH = 500;
  for (let done = 0; done < n; done += BATCH) {
    const tasks: NewTask[] = [];
    for (let i = 0; i < Math.min(BATCH, n - done); i++) {
      tasks.push({
        uuid: crypto.randomUUID(),
        taskName: names[(done + i) % names.length],
        priority: 0,
        args: `[${done + i}]`,
        kwargs: "{}",
        extra: {},
      });
    }
    await broker.addBulk(tasks);
    const request = {
      workerId: "bench",
      leaseMs: 60_000,
      resultTtlMs: 86_400_000,
      maxDeliveries: 5,
      recoverLimit: 100,
    };
    const { claimed } = await broker.exchange({ ...request, settlements: [], want: BATCH });
    const settlements: Settlement[] = claimed.map((task, i) =>
      (done + i) % 10 === 9
        ? {
          uuid: task.uuid,
          deliveries: task.deliveries,
          status: "error",
          error: { type: "Error", message: "boom" },
        }
        : { uuid: task.uuid, deliveries: task.deliveries, status: "success", returning: "1" }
    );
    await broker.exchange({ ...request, settlements, want: 0 });
    if ((done / BATCH) % 200 === 0) {
      console.error(
        `filled ${done + tasks.length} (${((performance.now() - fillStart) / 1000).toFixed(0)} s)`,
      );
    }
  }
}

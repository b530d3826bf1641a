import { test } from "node:test";
import assert from "node:assert/strict";
import { producerApp, startWorker, stopWorker, uniqueAppName } from "../support/e2e_env.ts";
import type { SpawnedProcess } from "../support/spawn_runtime.ts";

interface RunOrder {
  label: string;
  order: number;
}

test(
  "tasks queued before a worker starts run lowest priority number first, FIFO within a priority",
  { timeout: 30_000 },
  async () => {
    const name = uniqueAppName("priority");
    const app = producerApp(name);
    let worker: SpawnedProcess | undefined;
    try {
      const queued: Array<[label: string, priority: number]> = [
        ["low-1", 5],
        ["mid-1", 1],
        ["high-1", 0],
        ["low-2", 5],
        ["high-2", 0],
        ["urgent", -3],
        ["mid-2", 1],
        ["high-3", 0],
        ["low-3", 5],
      ];
      // One at a time, so the enqueue order (FIFO within a priority) is well defined.
      const jobs = [];
      for (const [label, priority] of queued) {
        // The fixture's record_order returns { label, order }: order counts the tasks it ran.
        jobs.push(await app.addTask<RunOrder>("record_order", [label], { priority }));
      }
      assert.equal((await jobs[0].get())?.status, "new", "nothing runs before the worker starts");

      // One task at a time (maxTasksProcess: 1), so the order the worker ran them is the order
      // it claimed them.
      worker = await startWorker(name, { concurrency: 1 });
      const results = await Promise.all(jobs.map((job) => job.value({ timeoutMs: 10_000 })));
      const ran = results.toSorted((a, b) => a.order - b.order).map((result) => result.label);
      assert.deepEqual(ran, [
        "urgent",
        "high-1",
        "high-2",
        "high-3",
        "mid-1",
        "mid-2",
        "low-1",
        "low-2",
        "low-3",
      ]);
      assert.deepEqual(
        results.map((result) => result.order).toSorted((a, b) => a - b),
        [1, 2, 3, 4, 5, 6, 7, 8, 9],
        "each task ran exactly once",
      );

      // The stored timings agree: in run order, no task started before the previous one did.
      const records = await Promise.all(jobs.map((job) => job.get()));
      const starts = records
        .map((record, i) => ({ order: results[i].order, startedAt: record?.startedAt?.getTime() }))
        .toSorted((a, b) => a.order - b.order)
        .map((entry) => entry.startedAt ?? NaN);
      for (let i = 1; i < starts.length; i++) {
        assert.ok(starts[i] >= starts[i - 1], `start times out of order: ${starts.join(", ")}`);
      }
      assert.deepEqual(records.map((record) => record?.priority), queued.map(([, p]) => p));

      assert.equal(await stopWorker(worker), 0, worker.describe());
    } finally {
      await worker?.kill();
      await app.flushAll();
      await app.stop();
    }
  },
);

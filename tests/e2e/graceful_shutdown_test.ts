import { test } from "node:test";
import assert from "node:assert/strict";
import { producerApp, startWorker, stopWorker, uniqueAppName } from "../support/e2e_env.ts";
import type { SpawnedProcess } from "../support/spawn_runtime.ts";

test(
  "on SIGTERM a worker process finishes its running tasks, takes no new ones and exits with code 0",
  { timeout: 30_000 },
  async () => {
    const name = uniqueAppName("shutdown");
    const app = producerApp(name);
    let worker: SpawnedProcess | undefined;
    let successor: SpawnedProcess | undefined;
    try {
      // Five slots and three tasks: the worker would have room for more if it still took any.
      // (A claim it sent just before the signal may come back with the late task: it must give
      // it straight back, see stop_during_claim_test.ts.)
      worker = await startWorker(name, { concurrency: 5, graceMs: 10_000 });
      const labels = ["slow-a", "slow-b", "slow-c"];
      const jobs = await Promise.all(
        labels.map((label) => app.addTask<string>("slow", [label, 500])),
      );
      const started = await worker.waitForLines(/^STARTED (\S+) (\S+)$/, 3, 10_000);
      assert.deepEqual(
        started.map((match) => match[1]).toSorted(),
        jobs.map((job) => job.uuid).toSorted(),
      );
      assert.ok(
        !worker.lines.some((line) => line.startsWith("FINISHED ")),
        "the tasks are still running when the signal is sent",
      );

      worker.signal("SIGTERM");
      // Once it logs "stopping", the worker has stopped taking tasks.
      await worker.waitForLine(
        /^LOG info Worker \S+ stopping: waiting up to 10000 ms for 3 running/,
      );
      const late = await app.addTask<number>("add", [1, 1]);

      assert.equal(await worker.exitCode(10_000), 0, worker.describe());
      assert.ok(worker.lines.includes("SIGNAL SIGTERM"), worker.describe());
      assert.equal(
        worker.lines.filter((line) => line.startsWith("FINISHED ")).length,
        3,
        worker.describe(),
      );
      for (const [i, job] of jobs.entries()) {
        const record = await job.get();
        assert.equal(record?.status, "success", `${labels[i]}: ${JSON.stringify(record)}`);
        assert.equal(record?.returning, labels[i]);
      }
      const lateRecord = await late.get();
      assert.equal(
        lateRecord?.status,
        "new",
        `the task enqueued after the signal was not taken: ${
          JSON.stringify(lateRecord)
        }\n${worker.describe()}`,
      );

      // It stayed queued: the next worker runs it.
      successor = await startWorker(name);
      assert.equal(await late.value({ timeoutMs: 10_000 }), 2);
      assert.equal(await stopWorker(successor), 0, successor.describe());
    } finally {
      await worker?.kill();
      await successor?.kill();
      await app.flushAll();
      await app.stop();
    }
  },
);

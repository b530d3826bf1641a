import { test } from "node:test";
import assert from "node:assert/strict";
import {
  PRODUCER_FIXTURE,
  producerApp,
  REDIS_URL,
  startWorker,
  stopWorker,
  uniqueAppName,
} from "../support/e2e_env.ts";
import { type SpawnedProcess, spawnRuntime } from "../support/spawn_runtime.ts";

test(
  "a worker process runs tasks enqueued by a separate producer process",
  { timeout: 30_000 },
  async () => {
    const name = uniqueAppName("producer-worker");
    const app = producerApp(name);
    let worker: SpawnedProcess | undefined;
    let producer: SpawnedProcess | undefined;
    try {
      worker = await startWorker(name, { concurrency: 4 });
      producer = spawnRuntime(PRODUCER_FIXTURE, {
        env: { E2E_APP: name, E2E_REDIS_URL: REDIS_URL, E2E_COUNT: "5" },
      });

      // The producer process enqueues add(i, 1000) by name, awaits the results and exits by itself.
      assert.equal(await producer.exitCode(15_000), 0, producer.describe());
      assert.ok(producer.lines.includes("DONE"), producer.describe());
      const enqueued = producer.lines.filter((line) => line.startsWith("ENQUEUED "));
      const results = producer.lines.filter((line) => line.startsWith("RESULT "));
      assert.equal(enqueued.length, 5, producer.describe());
      assert.deepEqual(results, [0, 1, 2, 3, 4].map((i) => `RESULT ${i} ${i + 1000}`));

      // The records are in Redis, readable from a third process (this one), and were run by the
      // worker process: the worker id is host:pid:random.
      for (const line of enqueued) {
        const [, index, uuid] = line.split(" ");
        const record = await app.get(uuid);
        assert.ok(record, `no record for ${uuid}`);
        assert.equal(record.status, "success");
        assert.equal(record.taskName, "add");
        assert.deepEqual(record.args, [Number(index), 1000]);
        assert.equal(record.returning, Number(index) + 1000);
        assert.equal(record.deliveries, 1);
        assert.match(record.workerId ?? "", new RegExp(`:${worker.pid}:`));
        assert.ok(record.startedAt && record.finishedAt, "timings are stored");
        assert.ok(record.finishedAt.getTime() >= record.startedAt.getTime());
      }

      assert.equal(await stopWorker(worker), 0, worker.describe());
    } finally {
      await producer?.kill();
      await worker?.kill();
      await app.flushAll();
      await app.stop();
    }
  },
);

test(
  "a producer that registers typed handles but starts no worker gets results from a worker process",
  { timeout: 30_000 },
  async () => {
    const name = uniqueAppName("typed-producer");
    const app = producerApp(name);
    // Registering a task does not run anything in this process: it only gives a typed handle.
    const add = app.task("add", (a: number, b: number) => a + b);
    let worker: SpawnedProcess | undefined;
    try {
      worker = await startWorker(name);
      const jobs = await Promise.all([add.addTask(2, 3), add.addTask(40, 2)]);
      const byName = await app.addTask<number>("add", [7, 8], { priority: -1 });

      const record = await jobs[0].result({ timeoutMs: 10_000 });
      assert.equal(record.status, "success");
      assert.equal(record.returning, 5);
      assert.equal(await jobs[1].value({ timeoutMs: 10_000 }), 42);
      assert.equal(await byName.value({ timeoutMs: 10_000 }), 15);
      assert.equal((await byName.get())?.priority, -1);
      assert.match(record.workerId ?? "", new RegExp(`:${worker.pid}:`));
      assert.equal(await app.ping(), true, "the worker's heartbeat is live");

      assert.equal(await stopWorker(worker), 0, worker.describe());
    } finally {
      await worker?.kill();
      await app.flushAll();
      await app.stop();
    }
  },
);

import { test } from "node:test";
import assert from "node:assert/strict";
import { QueueTasks } from "../../mod.ts";
import { deferred, testRedisUrl, uniqueName } from "../support/deferred.ts";

test("runningOlderTasks and deleteFinishedTasks never re-run or delete a task a live worker owns", async () => {
  const name = uniqueName("live-owner");
  const url = testRedisUrl();
  const config = { logsDefaultLevel: "silent" as const, leaseMs: 300, idleWakeMs: 50 };
  const owner = new QueueTasks({ name, brokerUrl: url, env: false, config });
  const newcomer = new QueueTasks({
    name,
    brokerUrl: url,
    env: false,
    config: { ...config, runningOlderTasks: true, deleteFinishedTasks: true },
  });
  let runs = 0;
  const started = deferred();
  const release = deferred();
  const body = async () => {
    runs++;
    started.resolve();
    await release.promise;
    return "done once";
  };
  const task = owner.task("long", body);
  newcomer.task("long", body);
  await owner.start();
  try {
    const job = await task.addTask();
    await started.promise;
    // The point is time: more than two leases pass while the owner renews its lease.
    await new Promise((resolve) => setTimeout(resolve, 700));
    await newcomer.start();
    const record = await job.get();
    assert.equal(record?.status, "process", "still running, not re-queued or deleted");
    assert.equal(record?.deliveries, 1);
    release.resolve();
    const final = await job.result({ timeoutMs: 5_000 });
    assert.equal(final.returning, "done once");
    assert.equal(final.deliveries, 1);
    assert.equal(runs, 1, "the task ran once");
  } finally {
    release.resolve();
    await newcomer.stop();
    await owner.flushAll();
    await owner.stop();
  }
});

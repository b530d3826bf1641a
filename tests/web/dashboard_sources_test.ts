/**
 * What the dashboard reads besides the operations API, on both backends: the throughput history
 * (`GlobalConfig.readThroughput`, per minute over the last hour, from the workers' reports) and
 * the schedules a running Timer publishes in the GlobalConfig (`SCHEDULES_GROUP`). Needs Redis at
 * redis://127.0.0.1:6379, or at QTASKS_TEST_REDIS_URL.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Timer } from "../../mod.ts";
import { type PublishedSchedule, SCHEDULES_GROUP } from "../../src/ports/mod.ts";
import { backendApp, backendLabel, BACKENDS, withApp } from "../support/with_app.ts";

for (const backend of BACKENDS) {
  const label = backendLabel(backend);

  test(`${label}, readThroughput sums the workers' reports per minute, oldest first`, async () => {
    const app = backendApp(backend, "web-throughput");
    await withApp(app, async () => {
      const globalConfig = app.broker.storage.globalConfig!;
      await globalConfig.reportWorker({
        workerId: "w1",
        host: "h",
        pid: 1,
        runtime: "test",
        concurrency: 1,
        startedAt: Date.now(),
        active: 0,
        processed: 5,
        failed: 2,
        ttlMs: 10_000,
      });
      const minutes = await globalConfig.readThroughput!(60);
      assert.equal(minutes.length, 60);
      for (let i = 1; i < minutes.length; i++) {
        assert.equal(minutes[i].at - minutes[i - 1].at, 60_000);
      }
      assert.equal(minutes[59].at % 60_000, 0);
      const last = minutes.at(-1)!;
      // A report near a minute's end may land in the next one: the sum over the last two holds.
      const sum = minutes.slice(-2).reduce((a, m) => a + m.processed, 0);
      assert.equal(sum, 5);
      assert.equal(minutes.slice(-2).reduce((a, m) => a + m.failed, 0), 2);
      assert.ok(last.at <= Date.now() + 5_000);
      assert.deepEqual((await globalConfig.readThroughput!(3)).length, 3);
      for (const bad of [0, 61, 1.5]) {
        await assert.rejects(
          async () => await globalConfig.readThroughput!(bad),
          /minutes .* is not an integer from 1 to 60/,
        );
      }
    });
  });

  test(`${label}, a started Timer publishes its schedules and their next fire`, async () => {
    const app = backendApp(backend, "web-schedules");
    app.task("report", () => 1);
    const timer = new Timer({ app });
    timer.addTask("report", { cron: "0 9 * * 1", args: ["<b>weekly</b>"], id: "weekly" });
    await withApp(app, async () => {
      const globalConfig = app.broker.storage.globalConfig!;
      assert.deepEqual(await globalConfig.getAll(SCHEDULES_GROUP), {}, "nothing before start");
      await timer.start();
      try {
        const published = await globalConfig.getAll(SCHEDULES_GROUP);
        assert.deepEqual(Object.keys(published), ["weekly"]);
        const schedule = JSON.parse(published.weekly) as PublishedSchedule;
        assert.equal(schedule.taskName, "report");
        assert.equal(schedule.cron, "0 9 * * 1");
        assert.deepEqual(schedule.args, ["<b>weekly</b>"]);
        assert.equal(schedule.nextAt, timer.schedules[0].nextAt);
        assert.ok(schedule.nextAt! > Date.now());
      } finally {
        await timer.stop();
      }
    });
  });
}

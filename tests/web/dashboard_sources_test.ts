/**
 * What the dashboard reads besides the operations API, on both backends: the schedules a running Timer publishes in the GlobalConfig (`SCHEDULES_GROUP`). Needs Redis at
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

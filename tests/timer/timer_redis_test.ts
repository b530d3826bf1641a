/**
 * Two Timers on Redis (two apps of one name, each with its own connection, as in two
 * processes), driven by one hand-moved clock so that both try every fire: each fire is
 * enqueued exactly once. Needs Redis at redis://127.0.0.1:6379, or at QTASKS_TEST_REDIS_URL.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { QueueTasks, readAppStats, Timer, type TimerFire } from "../../mod.ts";
import { testRedisUrl, uniqueName } from "../support/deferred.ts";
import { ManualClock } from "../support/manual_clock.ts";

function redisApp(name: string): QueueTasks {
  const app = new QueueTasks({
    name,
    brokerUrl: testRedisUrl(),
    env: false,
    config: { logsDefaultLevel: "silent" },
  });
  app.task("report", (kind: string) => kind);
  return app;
}

test("two timers on Redis try every fire and enqueue each exactly once", async () => {
  const name = uniqueName("timer-redis");
  const apps = [redisApp(name), redisApp(name)];
  const clock = new ManualClock(Date.UTC(2030, 0, 1, 0, 0, 3));
  const fires: TimerFire[] = [];
  const timers = apps.map((app) => new Timer({ app, clock, onFire: (f) => fires.push(f) }));
  try {
    for (const timer of timers) {
      timer.addTask("report", { cron: "*/5 * * * * *", args: ["x"], catchUp: "once" });
      await timer.start();
    }
    await clock.advance(60_000);
    const enqueued = fires.filter((f) => f.outcome === "enqueued");
    assert.equal(fires.length, 24, "both timers tried each of the 12 fires");
    assert.equal(enqueued.length, 12);
    assert.equal(fires.filter((f) => f.outcome === "claimed-elsewhere").length, 12);
    assert.equal(new Set(enqueued.map((f) => f.fireAt)).size, 12);
    const stats = await readAppStats(apps[0]);
    assert.equal(stats.queue.queued, 12);
    for (const fire of enqueued) {
      const record = await apps[0].get(fire.uuid);
      assert.equal(record?.status, "new");
      assert.deepEqual(record?.args, ["x"]);
    }
    // Both stop; 20 s pass; both start again at once: the missed fires are caught up once.
    for (const timer of timers) await timer.stop();
    clock.jump(20_000);
    fires.length = 0;
    await Promise.all(timers.map((timer) => timer.start()));
    assert.deepEqual(
      fires.map((f) => [f.outcome, f.catchUp]).sort(),
      [["claimed-elsewhere", true], ["enqueued", true]],
    );
    assert.equal((await readAppStats(apps[0])).queue.queued, 13);
  } finally {
    for (const timer of timers) await timer.stop();
    await apps[0].flushAll();
    for (const app of apps) await app.stop();
  }
});

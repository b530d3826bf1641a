/**
 * The Timer on the memory backend with a clock moved by the test: fire times, time zones,
 * missed fires (skip or catch up once), several timers sharing one GlobalConfig, validation,
 * and stopping with the app.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BackendError,
  QueueTasks,
  Timer,
  type TimerFire,
  UnknownTaskError,
  ValidationError,
} from "../../mod.ts";
import { MemoryBroker } from "../../src/backends/memory/mod.ts";
import { scheduleUuid } from "../../src/timer/_schedule_uuid.ts";
import { z } from "zod";
import { deferred, uniqueName } from "../support/deferred.ts";
import { ManualClock } from "../support/manual_clock.ts";

const T0 = Date.UTC(2030, 0, 1, 0, 0, 3); // 2030-01-01T00:00:03Z, a Tuesday

function memoryApp(): QueueTasks {
  const app = new QueueTasks({
    name: uniqueName("timer"),
    env: false,
    config: { logsDefaultLevel: "silent" },
  });
  app.task("ping", () => "pong");
  app.task("report", (kind: string) => `report ${kind}`);
  return app;
}

function collect(): { fires: TimerFire[]; onFire: (fire: TimerFire) => void } {
  const fires: TimerFire[] = [];
  return { fires, onFire: (fire) => fires.push(fire) };
}

test("a timer enqueues each fire of a seconds pattern at its time, with its arguments and priority", async () => {
  const app = memoryApp();
  const clock = new ManualClock(T0);
  const { fires, onFire } = collect();
  const timer = new Timer({ app, clock, onFire });
  const id = timer.addTask("report", { cron: "*/10 * * * * *", args: ["hourly"], priority: 7 });
  await timer.start();
  assert.equal(timer.schedules[0].nextAt, Date.UTC(2030, 0, 1, 0, 0, 10));
  await clock.advance(6_999);
  assert.equal(fires.length, 0, "nothing before 00:00:10");
  await clock.advance(23_000); // to 00:00:32.999
  assert.deepEqual(
    fires.map((f) => [new Date(f.fireAt).toISOString(), f.outcome]),
    [
      ["2030-01-01T00:00:10.000Z", "enqueued"],
      ["2030-01-01T00:00:20.000Z", "enqueued"],
      ["2030-01-01T00:00:30.000Z", "enqueued"],
    ],
  );
  for (const fire of fires) {
    assert.equal(fire.scheduleId, id);
    assert.equal(fire.uuid, await scheduleUuid(app.name, id, fire.fireAt));
    const record = await app.get(fire.uuid);
    assert.equal(record?.taskName, "report");
    assert.deepEqual(record?.args, ["hourly"]);
    assert.equal(record?.priority, 7);
    assert.equal(record?.status, "new");
  }
  await timer.stop();
  assert.equal(clock.pending, 0, "a stopped timer leaves no wait behind");
});

test("a schedule with a time zone fires at that zone's wall-clock time", async () => {
  const app = memoryApp();
  const clock = new ManualClock(Date.UTC(2030, 0, 1, 0, 0, 0));
  const { fires, onFire } = collect();
  const timer = new Timer({ app, clock, onFire });
  timer.addTask("report", { cron: "0 9 * * *", args: ["ny"], timezone: "America/New_York" });
  timer.addTask("report", { cron: "0 9 * * *", args: ["tokyo"], timezone: "Asia/Tokyo" });
  await timer.start();
  await clock.advance(24 * 3_600_000);
  const byArgs = new Map<string, string>();
  for (const fire of fires) {
    const record = await app.get(fire.uuid);
    byArgs.set(String(record?.args[0]), new Date(fire.fireAt).toISOString());
  }
  // 9:00 in New York is 14:00 UTC in January; 9:00 in Tokyo is 00:00 UTC the same day.
  assert.deepEqual(Object.fromEntries(byArgs), {
    ny: "2030-01-01T14:00:00.000Z",
    tokyo: "2030-01-02T00:00:00.000Z",
  });
  await timer.stop();
});

test("a schedule without a time zone is read in UTC, whatever the host's zone", async () => {
  const app = memoryApp();
  const clock = new ManualClock(Date.UTC(2030, 0, 1, 0, 0, 0));
  const { fires, onFire } = collect();
  const timer = new Timer({ app, clock, onFire });
  timer.addTask("report", { cron: "0 9 * * *", args: ["utc"] });
  assert.equal(timer.schedules[0].timezone, "UTC");
  await timer.start();
  await clock.advance(24 * 3_600_000);
  assert.deepEqual(fires.map((fire) => new Date(fire.fireAt).toISOString()), [
    "2030-01-01T09:00:00.000Z",
  ]);
  await timer.stop();
});

test("fires missed while every timer was down are skipped by default and caught up once with catchUp once", async () => {
  const app = memoryApp();
  const clock = new ManualClock(T0);
  const first = new Timer({ app, clock });
  const skipId = first.addTask("ping", { cron: "*/10 * * * * *", id: "skipper" });
  const onceId = first.addTask("ping", { cron: "*/10 * * * * *", id: "catcher", catchUp: "once" });
  await first.start();
  await clock.advance(10_000); // fires 00:00:10 for both
  await first.stop();
  clock.jump(45_000); // now 00:00:58: 00:00:20 … 00:00:50 were missed

  const { fires, onFire } = collect();
  const second = new Timer({ app, clock, onFire });
  second.addTask("ping", { cron: "*/10 * * * * *", id: skipId });
  second.addTask("ping", { cron: "*/10 * * * * *", id: onceId, catchUp: "once" });
  await second.start();
  assert.deepEqual(
    fires.map((f) => [f.scheduleId, new Date(f.fireAt).toISOString(), f.catchUp, f.outcome]),
    [["catcher", "2030-01-01T00:00:50.000Z", true, "enqueued"]],
  );
  await clock.advance(2_000); // 00:01:00: both fire again
  assert.deepEqual(
    fires.slice(1).map((f) => [f.scheduleId, new Date(f.fireAt).toISOString(), f.catchUp]),
    [
      ["skipper", "2030-01-01T00:01:00.000Z", false],
      ["catcher", "2030-01-01T00:01:00.000Z", false],
    ],
  );
  await second.stop();

  // A third timer started right away has nothing to catch up: the last fire is recorded.
  const third = collect();
  const again = new Timer({ app, clock, onFire: third.onFire });
  again.addTask("ping", { cron: "*/10 * * * * *", id: onceId, catchUp: "once" });
  await again.start();
  assert.deepEqual(third.fires, []);
  await again.stop();
});

test("a schedule that never fired has nothing to catch up", async () => {
  const app = memoryApp();
  const clock = new ManualClock(T0);
  const { fires, onFire } = collect();
  const timer = new Timer({ app, clock, onFire });
  timer.addTask("ping", { cron: "*/10 * * * * *", catchUp: "once" });
  await timer.start();
  assert.deepEqual(fires, []);
  await timer.stop();
});

test("two timers on one app enqueue each fire exactly once between them", async () => {
  const app = memoryApp();
  const clock = new ManualClock(T0);
  const { fires, onFire } = collect();
  const timers = [new Timer({ app, clock, onFire }), new Timer({ app, clock, onFire })];
  for (const timer of timers) {
    timer.addTask("report", { cron: "*/5 * * * * *", args: ["x"] });
    await timer.start();
  }
  await clock.advance(60_000);
  const enqueued = fires.filter((f) => f.outcome === "enqueued");
  const elsewhere = fires.filter((f) => f.outcome === "claimed-elsewhere");
  assert.equal(enqueued.length, 12);
  assert.equal(elsewhere.length, 12);
  assert.equal(new Set(enqueued.map((f) => f.fireAt)).size, 12);
  const stats = await app.broker.queueStats!();
  assert.equal(stats.queued, 12);
  for (const timer of timers) await timer.stop();
});

test("a fire whose task is already stored under its uuid does not make a second task", async () => {
  const app = memoryApp();
  const clock = new ManualClock(T0);
  const { fires, onFire } = collect();
  const timer = new Timer({ app, clock, onFire, lockTtlMs: 1_000 });
  const id = timer.addTask("ping", { cron: "*/10 * * * * *" });
  // The task of the 00:00:10 fire exists already (a resent enqueue whose reply was lost).
  const uuid = await scheduleUuid(app.name, id, Date.UTC(2030, 0, 1, 0, 0, 10));
  await app.addTask("ping", [], { uuid });
  await timer.start();
  await clock.advance(7_000);
  assert.deepEqual(fires.map((f) => f.outcome), ["enqueued"]);
  assert.equal((await app.broker.queueStats!()).queued, 1);
  await timer.stop();
});

test("a timer that wakes up too late for a fire skips it instead of risking a second enqueue", async () => {
  const app = memoryApp();
  const clock = new ManualClock(T0);
  const { fires, onFire } = collect();
  const timer = new Timer({ app, clock, onFire, lockTtlMs: 10_000 });
  timer.addTask("ping", { cron: "* * * * * *" });
  await timer.start();
  clock.jump(60_000); // suspended for a minute: 00:00:04 … 00:00:58 are over 5 s late
  const ticked = await timer.tick();
  assert.equal(ticked[0].outcome, "skipped-late");
  assert.deepEqual(
    ticked.slice(1).map((f) => new Date(f.fireAt).toISOString().slice(17, 19)),
    ["59", "00", "01", "02", "03"],
  );
  assert.ok(ticked.slice(1).every((f) => f.outcome === "enqueued"));
  assert.deepEqual(fires, ticked, "onFire hears every fire tick reports");
  await timer.stop();
});

test("a catchUp once schedule enqueues one of the fires a stalled timer skipped", async () => {
  const app = memoryApp();
  const clock = new ManualClock(Date.UTC(2030, 0, 1, 8, 0, 0));
  const timer = new Timer({ app, clock, lockTtlMs: 60_000 });
  timer.addTask("ping", { cron: "0 9 * * *", id: "daily", catchUp: "once" });
  timer.addTask("ping", { cron: "0 9 * * *", id: "daily-skip" });
  await timer.start();
  clock.jump(2 * 3_600_000); // stalled from 08:00 to 10:00: the 09:00 fires are an hour late
  const ticked = await timer.tick();
  const summary = ticked.map((fire) =>
    `${fire.scheduleId} ${new Date(fire.fireAt).toISOString().slice(11, 16)} ${fire.outcome}${
      fire.catchUp ? " (catch-up)" : ""
    }`
  );
  assert.deepEqual(summary, [
    "daily 09:00 skipped-late",
    "daily 09:00 enqueued (catch-up)",
    "daily-skip 09:00 skipped-late",
  ]);
  const caught = ticked[1];
  assert.equal((await app.get(caught.uuid))?.taskName, "ping");
  // The next tick has nothing more to catch up.
  assert.deepEqual(await timer.tick(), []);
  await timer.stop();
});

test("a fire whose enqueue fails on the backend is tried again while the claim stands", async () => {
  const broker = new MemoryBroker({ name: uniqueName("timer-retry") });
  let failures = 2;
  const add = broker.add.bind(broker);
  broker.add = (task) =>
    failures-- > 0
      ? Promise.reject(new BackendError("Cannot reach Redis at redis://x (add): no reply"))
      : add(task);
  const app = new QueueTasks({ broker, env: false, config: { logsDefaultLevel: "silent" } });
  app.task("ping", () => "pong");
  const first = deferred<TimerFire>();
  // The system clock: the retries wait 100 ms, then 200 ms.
  const timer = new Timer({ app, onFire: (fire) => first.resolve(fire) });
  timer.addTask("ping", { cron: "* * * * * *" });
  await timer.start();
  try {
    const fire = await first.promise;
    assert.equal(fire.outcome, "enqueued");
    assert.equal(failures, -1, "two failed tries, then the one that stored it");
    assert.equal((await app.get(fire.uuid))?.taskName, "ping");
  } finally {
    await timer.stop();
  }
});

test("addTask checks the task, the pattern, the time zone and the arguments", () => {
  const app = memoryApp();
  app.task({ name: "typed", schema: z.tuple([z.number()]) }, (n: number) => n);
  const timer = new Timer({ app });
  assert.throws(() => timer.addTask("nope", { cron: "* * * * *" }), UnknownTaskError);
  assert.throws(
    () => timer.addTask("ping", { cron: "every minute" }),
    (error: unknown) =>
      error instanceof TypeError && error.message.includes('invalid cron pattern "every minute"'),
  );
  assert.throws(
    () => timer.addTask("ping", { cron: "61 * * * *" }),
    (error: unknown) => error instanceof TypeError && error.message.includes('"61 * * * *"'),
  );
  assert.throws(
    () => timer.addTask("ping", { cron: "* * * * *", timezone: "Mars/Olympus" }),
    (error: unknown) => error instanceof RangeError && error.message.includes("Mars/Olympus"),
  );
  assert.throws(
    () => timer.addTask("ping", { cron: "* * * * *", catchUp: "all" as "once" }),
    TypeError,
  );
  assert.throws(() => timer.addTask("ping", { cron: "* * * * *", priority: 1.5 }), RangeError);
  assert.throws(() => timer.addTask("typed", { cron: "* * * * *", args: ["x"] }), ValidationError);
  timer.addTask("ping", { cron: "* * * * *", id: "one" });
  assert.throws(() => timer.addTask("ping", { cron: "0 * * * *", id: "one" }), TypeError);
  // The same schedule declared in two processes gets the same default id.
  const other = new Timer({ app });
  assert.equal(
    other.addTask("report", { cron: "0 9 * * *", args: ["a"] }),
    new Timer({ app }).addTask("report", { cron: "0 9 * * *", args: ["a"] }),
  );
});

test("a timer accepts a task handle and stops when its app stops", async () => {
  const app = memoryApp();
  const greet = app.task("greet", (name: string) => `hi ${name}`);
  const clock = new ManualClock(T0);
  const timer = new Timer({ app, clock });
  timer.addTask(greet, { cron: "*/10 * * * * *", args: ["ada"] });
  await app.start();
  await timer.start();
  assert.equal(timer.running, true);
  await app.stop();
  assert.equal(timer.running, false);
  assert.equal(clock.pending, 0);
});

test("runForever stops the timer and the app on a stop signal", async () => {
  const app = memoryApp();
  const clock = new ManualClock(T0);
  const timer = new Timer({ app, clock });
  timer.addTask("ping", { cron: "*/10 * * * * *" });
  const stop = new AbortController();
  const running = timer.runForever({ signal: stop.signal, exit: false, signals: [] });
  stop.abort();
  await running;
  assert.equal(timer.running, false);
});

test("a timer whose catch-up read fails does not start", async () => {
  const app = memoryApp();
  const globalConfig = app.broker.storage.globalConfig!;
  globalConfig.get = () => Promise.reject(new Error("backend down"));
  const clock = new ManualClock(T0);
  const timer = new Timer({ app, clock });
  timer.addTask("ping", { cron: "*/10 * * * * *", catchUp: "once" });
  await assert.rejects(timer.start(), /backend down/);
  assert.equal(timer.running, false);
  assert.equal(clock.pending, 0);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { QueueTasks } from "../../mod.ts";
import { newTaskUuid, newTaskUuids } from "../../src/model/task_uuid.ts";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The Unix time in ms of a version 7 uuid's first 48 bits. */
function timeOf(uuid: string): number {
  return parseInt(uuid.slice(0, 8) + uuid.slice(9, 13), 16);
}

/** Runs `body` with `Date.now` answering `clock()`. */
function withClock<T>(clock: () => number, body: () => T): T {
  const real = Date.now;
  Date.now = clock;
  try {
    return body();
  } finally {
    Date.now = real;
  }
}

test("a new task uuid is a lowercase version 7 UUID of the RFC 9562 variant", () => {
  for (let i = 0; i < 1000; i++) assert.match(newTaskUuid(), V7);
});

test("a new task uuid begins with the wall clock's time in ms", () => {
  const before = Date.now();
  const uuid = newTaskUuid();
  const after = Date.now();
  // Ahead of the clock only after the counter ran out (a test below makes 10,000 in one ms).
  assert.ok(timeOf(uuid) >= before && timeOf(uuid) <= after + 10, `${timeOf(uuid)} ${before}`);
});

test("uuids made one after another sort in the order they were made, many in one millisecond", () => {
  const at = Date.now();
  const uuids = withClock(() => at, () => Array.from({ length: 10_000 }, newTaskUuid));
  for (let i = 1; i < uuids.length; i++) assert.ok(uuids[i - 1] < uuids[i], `at ${i}`);
  // 10,000 in one millisecond: past the counter's room, the time field runs ahead of the clock,
  // a millisecond per 4,096 uuids after the first.
  assert.ok(timeOf(uuids[uuids.length - 1]) > at);
  assert.ok(timeOf(uuids[uuids.length - 1]) <= at + 10);
});

test("uuids made after the clock went back still sort after the earlier ones", () => {
  const at = Date.now();
  const before = withClock(() => at, newTaskUuid);
  const after = withClock(() => at - 5_000, newTaskUuid);
  assert.ok(before < after);
});

test("uuids made in the same millisecond differ in their random bits", () => {
  const at = Date.now();
  const [a, b] = withClock(() => at, () => [newTaskUuid(), newTaskUuid()]);
  assert.notEqual(a.slice(19), b.slice(19));
});

test("a batch of uuids is well-formed, ascending past the counter's room, and continues the single ones", () => {
  const at = Date.now();
  const [single, batch, next] = withClock(
    () => at,
    () => [newTaskUuid(), newTaskUuids(10_000), newTaskUuid()],
  );
  const all = [single, ...batch, next];
  for (let i = 1; i < all.length; i++) {
    assert.match(all[i], V7);
    assert.ok(all[i - 1] < all[i], `at ${i}`);
  }
  assert.ok(timeOf(next) > at && timeOf(next) <= at + 10);
  assert.deepEqual(newTaskUuids(0), []);
});

test("addTasks gives each task its own ascending uuid", async () => {
  const app = new QueueTasks({
    name: "uuid-batch",
    env: false,
    config: { logsDefaultLevel: "silent" },
  });
  const echo = app.task("echo", (n: number) => n);
  const handles = await echo.addTasks([[1], [2], [3]]);
  const uuids = handles.map((handle) => handle.uuid);
  for (const uuid of uuids) assert.match(uuid, V7);
  assert.ok(uuids[0] < uuids[1] && uuids[1] < uuids[2]);
  assert.deepEqual(
    (await Promise.all(uuids.map((uuid) => app.get(uuid)))).map((record) => record?.args),
    [[1], [2], [3]],
  );
  await app.stop();
});

test("a task added without a uuid gets a version 7 uuid", async () => {
  const app = new QueueTasks({
    name: "uuid-v7",
    env: false,
    config: { logsDefaultLevel: "silent" },
  });
  app.task("noop", () => null);
  const handle = await app.addTask("noop", []);
  assert.match(handle.uuid, V7);
  await app.stop();
});

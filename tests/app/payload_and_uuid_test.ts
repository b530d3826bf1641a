/**
 * Values JSON cannot carry, uuids in upper case, and idempotency keys reused (issue 16 items 11,
 * 14 and 15), on both backends.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidPayloadError } from "../../mod.ts";
import { backendApp, backendLabel, BACKENDS, withApp } from "../support/with_app.ts";

class Point {
  constructor(x: number) {
    this.x = x;
  }
  x: number;
}

const LOSSY: ReadonlyArray<[string, unknown[], RegExp]> = [
  ["a Date", [{ when: new Date(0) }], /the value at \[0\]\.when is a Date.*toISOString/],
  ["a Map", [new Map([["a", 1]])], /the value at \[0\] is a Map/],
  ["a Set", [1, { tags: new Set(["x"]) }], /the value at \[1\]\.tags is a Set/],
  ["NaN", [{ score: NaN }], /the value at \[0\]\.score is NaN, which JSON turns into null/],
  ["Infinity", [[1, Infinity]], /the value at \[0\]\[1\] is Infinity/],
  ["undefined in an array", [[1, undefined]], /the value at \[0\]\[1\] is undefined/],
  ["an undefined argument", [1, undefined], /the value at \[1\] is undefined/],
  ["a Uint8Array", [new Uint8Array([1, 2])], /the value at \[0\] is binary data/],
  ["a class instance", [new Point(1)], /the value at \[0\] is an instance of Point/],
  ["a function", [{ "odd key": () => 1 }], /the value at \[0\]\["odd key"\] is a function/],
];

for (const backend of BACKENDS) {
  const label = backendLabel(backend);

  test(`${label}, values JSON would change are refused at enqueue with the path of the bad value, and nothing is stored`, async () => {
    const app = backendApp(backend, "lossy");
    await withApp(app, async () => {
      for (const [what, args, message] of LOSSY) {
        await assert.rejects(app.addTask("anything", args), (error: unknown) => {
          assert.ok(error instanceof InvalidPayloadError, `${what}: ${error}`);
          assert.match(error.message, /^Cannot encode the arguments of task "anything" as JSON: /);
          assert.match(error.message, message, what);
          return true;
        });
      }
      const stats = await app.broker.queueStats?.();
      assert.equal(stats?.queued ?? 0, 0, "nothing was queued");
      // JSON values, objects with toJSON, undefined properties and a lone undefined pass.
      await app.addTask("anything", [{
        a: 1,
        b: undefined,
        c: [null, "x"],
        d: { toJSON: () => 1 },
      }]);
    });
  });

  test(`${label}, a result JSON would change ends the task as error (InvalidPayloadError), not as a changed value`, async () => {
    const app = backendApp(backend, "lossy-result");
    const size = app.task("size", (n: number) => new Map([["n", n]]));
    const nothing = app.task("nothing", () => {});
    await withApp(app, async () => {
      const record = await (await size.addTask(3)).result({ timeoutMs: 10_000 });
      assert.equal(record.status, "error");
      assert.equal(record.error?.code, "INVALID_PAYLOAD");
      assert.match(record.error?.message ?? "", /result of task "size".*is a Map/);
      const empty = await (await nothing.addTask()).result({ timeoutMs: 10_000 });
      assert.equal(empty.status, "success", "a task that returns nothing is fine");
    });
  });

  test(`${label}, get, cancel and result find a task by the uppercase uuid its producer chose`, async () => {
    const app = backendApp(backend, "upper");
    await withApp(app, async () => {
      const chosen = crypto.randomUUID().toUpperCase();
      const job = await app.addTask("later", [1], { uuid: chosen, delayMs: 60_000 });
      assert.equal(job.uuid, chosen.toLowerCase());
      assert.equal((await app.get(chosen))?.status, "new");
      assert.equal(app.result(chosen).uuid, chosen.toLowerCase());
      assert.equal((await app.result(chosen).get())?.uuid, chosen.toLowerCase());
      assert.equal(await app.cancel(chosen), "cancelled");
      assert.equal((await app.result(chosen).result({ timeoutMs: 5_000 })).status, "cancel");
    });
  });

  test(`${label}, adding a task under a uuid that exists returns a handle marked duplicate, and the first arguments stay`, async () => {
    const app = backendApp(backend, "dup");
    await withApp(app, async () => {
      const uuid = crypto.randomUUID();
      const first = await app.addTask("later", ["first"], { uuid, delayMs: 60_000 });
      const second = await app.addTask("later", ["second"], { uuid, delayMs: 60_000 });
      assert.equal(first.duplicate, false);
      assert.equal(second.duplicate, true, "the second caller learns its arguments were dropped");
      assert.equal(second.uuid, uuid);
      assert.deepEqual((await app.get(uuid))?.args, ["first"]);
    });
  });
}

/**
 * The client-side encoding of a PostgreSQL bulk enqueue: the shortcut for a plain task's fields
 * and the events written without an array per task give the same text as the general encoders.
 * No server needed.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { taskColumns } from "../../src/backends/postgres/_enqueue_sql.ts";
import {
  encodeEvents,
  storedEvents,
  storedLine,
  wakeLine,
} from "../../src/backends/postgres/_pg_step.ts";
import type { NewTask } from "../../src/model/messages.ts";
import { newTask } from "../contract/broker_contract.ts";

test("a plain task's compact fields are the JSON the general encoder gives, key for key", () => {
  const tasks: NewTask[] = [
    newTask({ taskName: "emails.send", priority: 3, args: '["a\\"b",1]', kwargs: '{"k":"v"}' }),
    newTask({ taskName: "emails.send", priority: -1, args: "[]" }),
    newTask({ taskName: "письмо\n\u2028", args: '["\\u0000"]', delayMs: 10 }),
  ];
  const fields = (taskColumns(tasks).params[1] as string).split("\n");
  assert.equal(fields.length, tasks.length);
  tasks.forEach((task, i) => {
    assert.equal(
      fields[i],
      JSON.stringify({ args: task.args, kwargs: task.kwargs }),
    );
  });
});

test("a task with any optional part takes the general encoder", () => {
  const shaped = newTask({ extra: { tenant: "t1" }, headers: { trace: "x" } });
  const [text] = (taskColumns([shaped]).params[1] as string).split("\n");
  const fields = JSON.parse(text);
  assert.equal(fields.tenant, "t1");
  assert.equal(fields.headers, '{"trace":"x"}');
  assert.equal(fields.args, shaped.args);
  // What the queue entry's columns hold is not repeated (recordTextSql puts it back).
  for (const column of ["task_name", "priority", "status", "deliveries", "seq", "created_at"]) {
    assert.equal(fields[column], undefined, column);
  }
});

test("a bulk enqueue's events are what encodeEvents gives for each task's line", () => {
  const names = ["a", "письмо", "任务名字", "emoji 🎉", "a"];
  const tasks = Array.from(
    { length: 1_500 },
    (_, i) => newTask({ taskName: names[Math.floor(i / 300)].repeat(1 + (i % 7)) }),
  );
  const delays = tasks.map((_, i) => (i % 5 === 0 ? 100 : 0));
  for (const wake of [true, false]) {
    const lines = tasks.map((task, i) => storedLine("app ☃", task.uuid, delays[i], task.taskName));
    if (wake) lines.push(wakeLine("app ☃"));
    const expected = encodeEvents(lines);
    assert.equal(storedEvents("app ☃", tasks, delays, wake), expected);
    // Several payloads, each under the server's limit in bytes.
    const payloads = expected.split("\u001e");
    assert.ok(payloads.length > 5);
    for (const payload of payloads) assert.ok(new TextEncoder().encode(payload).length <= 7_000);
  }
});

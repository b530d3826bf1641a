import { test } from "node:test";
import assert from "node:assert/strict";
import { QueueTasks } from "../../mod.ts";
import { TASK_OPTION_NAMES } from "../../src/app/task_options.ts";
import { uniqueName } from "../support/deferred.ts";

function memoryApp(): QueueTasks {
  return new QueueTasks({
    name: uniqueName("options"),
    env: false,
    config: { logsDefaultLevel: "silent" },
  });
}

test("an unknown task option does not compile and is a TypeError that lists the valid ones", () => {
  const app = memoryApp();
  if (false as boolean) {
    // @ts-expect-error: TaskOptions is closed: a misspelt option does not compile
    app.task({ name: "x", maxtime: 5_000 }, () => 1);
  }
  const options = { name: "x", maxtime: 5_000 };
  assert.throws(() => app.task(options as never, () => 1), {
    name: "TypeError",
    message: `Cannot register task "x": unknown option "maxtime" (valid options: ${
      TASK_OPTION_NAMES.join(", ")
    })`,
  });
  assert.equal(app.tasks.size, 0);
  assert.ok(TASK_OPTION_NAMES.includes("maxTime"));
  assert.ok(TASK_OPTION_NAMES.includes("inject"));
});

test("tags are kept on the definition", () => {
  const app = memoryApp();
  const handle = app.task({ name: "t", tags: ["billing", "nightly"] }, () => 1);
  assert.deepEqual(handle.definition.tags, ["billing", "nightly"]);
  assert.ok(Object.isFrozen(handle.definition.tags));
  assert.equal(app.task("untagged", () => 1).definition.tags, undefined);
  assert.throws(() => app.task({ name: "bad", tags: [""] }, () => 1), {
    name: "TypeError",
    message: 'Cannot register task "bad": tags must be an array of non-empty strings',
  });
});

test("task-level extra fields are stored on every record of the task, under the call's own", async () => {
  const app = memoryApp();
  const handle = app.task(
    { name: "t", extra: { team: "billing", source: "task" } },
    (n: number) => n,
  );
  const plain = await (await handle.addTask(1)).get();
  assert.deepEqual(plain?.extra, { team: "billing", source: "task" });
  const overridden = await (await handle.withOptions({ extra: { source: "api" } }).addTask(2))
    .get();
  assert.deepEqual(overridden?.extra, { team: "billing", source: "api" });
  const byName = await (await app.addTask("t", [3], { extra: { trace: "abc" } })).get();
  assert.deepEqual(byName?.extra, { team: "billing", source: "task", trace: "abc" });
  const batch = await handle.addTasks([[4]]);
  assert.deepEqual((await batch[0].get())?.extra, { team: "billing", source: "task" });
});

test("task-level extra fields are checked at registration", () => {
  const app = memoryApp();
  assert.throws(() => app.task({ name: "r", extra: { status: "x" } }, () => 1), {
    name: "TypeError",
    message: 'Cannot register task "r": extra field "status" is reserved for QTasks',
  });
  assert.throws(
    () => app.task({ name: "n", extra: { count: 1 as unknown as string } }, () => 1),
    {
      name: "TypeError",
      message: 'Cannot register task "n": extra field "count" must be a string',
    },
  );
});

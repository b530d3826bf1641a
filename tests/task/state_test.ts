import { test } from "node:test";
import assert from "node:assert/strict";
import { defineState, QueueTasks } from "../../mod.ts";
import { uniqueName } from "../support/deferred.ts";

test("a state gets, sets, updates, deletes and clears its keys", () => {
  const state = defineState(uniqueName("state"), {
    hits: 0,
    last: undefined as string | undefined,
  } as { hits: number; last?: string; tags?: string[] });
  assert.deepEqual(state.get(), { hits: 0, last: undefined });
  state.set("hits", 2);
  assert.equal(state.get("hits"), 2);
  const before = state.get();
  state.update({ last: "ada", tags: ["x"] });
  state.update((current) => ({ hits: current.hits + 1 }));
  assert.deepEqual(state.get(), { hits: 3, last: "ada", tags: ["x"] });
  assert.deepEqual(before, { hits: 2, last: undefined }); // a snapshot
  assert.ok(Object.isFrozen(state.get()));
  assert.equal(state.delete("tags"), true);
  assert.equal(state.delete("tags"), false);
  assert.equal("tags" in state.get(), false);
  if (false as boolean) {
    // @ts-expect-error: a required key cannot be deleted
    state.delete("hits");
    // @ts-expect-error: a value of the wrong type does not compile
    state.set("hits", "3");
  }
  state.clear();
  assert.deepEqual(state.get(), { hits: 0, last: undefined });
});

test("state names are unique in the process and the initial value must be a plain object", () => {
  const name = uniqueName("state");
  defineState(name, {});
  assert.throws(() => defineState(name, {}), {
    name: "TypeError",
    message: `Cannot define state "${name}": a state is already defined under that name`,
  });
  assert.throws(() => defineState("", {}), TypeError);
  assert.throws(() => defineState(uniqueName("state"), [] as never), TypeError);
  assert.throws(() => defineState(uniqueName("state"), new Map() as never), TypeError);
});

test("the tasks of one worker share a state", async () => {
  const visits = defineState(uniqueName("visits"), {} as Record<string, number>);
  const app = new QueueTasks({
    name: uniqueName("state-app"),
    env: false,
    config: { logsDefaultLevel: "silent", maxTasksProcess: 5 },
  });
  const visit = app.task("visit", async (page: string) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    visits.update((current) => ({ [page]: (current[page] ?? 0) + 1 }));
  });
  const report = app.task("report", () => visits.get());
  const reset = app.task("reset", (page: string) => visits.delete(page));
  await app.start();
  try {
    const jobs = await visit.addTasks([["home"], ["home"], ["about"], ["home"], ["about"]]);
    for (const job of jobs) await job.result({ timeoutMs: 5_000 });
    assert.deepEqual(await (await report.addTask()).value({ timeoutMs: 5_000 }), {
      home: 3,
      about: 2,
    });
    assert.equal(await (await reset.addTask("about")).value({ timeoutMs: 5_000 }), true);
    assert.deepEqual(visits.get(), { home: 3 });
  } finally {
    await app.stop();
  }
});

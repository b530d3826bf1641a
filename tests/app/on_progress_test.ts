/**
 * `job.onProgress`: progress pushed to the producer as the task reports it, on the memory backend
 * and on Redis, ending by itself at the final status.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { TaskContext } from "../../mod.ts";
import { deferred } from "../support/deferred.ts";
import { backendApp, backendLabel, BACKENDS } from "../support/with_app.ts";

for (const backend of BACKENDS) {
  const label = backendLabel(backend);
  const makeApp = () => backendApp(backend, "on-progress");

  test(`${label}, onProgress delivers each reported value in order and stops at the final status`, async () => {
    const app = makeApp();
    // The task reports the next value only once the listener got the previous one.
    const acks = [deferred(), deferred(), deferred()];
    const listening = deferred();
    const steps = app.task(
      { name: "steps", echo: true },
      async (ctx: TaskContext, total: number) => {
        await listening.promise;
        for (let done = 1; done <= total; done++) {
          await ctx.progress({ done, total });
          await acks[done - 1].promise;
        }
        return "done";
      },
    );
    await app.start();
    try {
      const job = await steps.addTask(3);
      const seen: unknown[] = [];
      const stop = await job.onProgress<{ done: number }>((progress) => {
        seen.push(progress);
        acks[progress.done - 1].resolve();
      });
      listening.resolve();
      assert.equal(await job.value({ timeoutMs: 10_000 }), "done");
      assert.deepEqual(seen, [
        { done: 1, total: 3 },
        { done: 2, total: 3 },
        { done: 3, total: 3 },
      ]);
      stop();
      stop();
    } finally {
      await app.flushAll();
      await app.stop();
    }
  });

  test(`${label}, onProgress starts with the value reported already and ends when aborted`, async () => {
    const app = makeApp();
    const reported = deferred();
    const release = deferred();
    const slow = app.task({ name: "slow", echo: true }, async (ctx: TaskContext) => {
      await ctx.progress("half");
      reported.resolve();
      await release.promise;
      await ctx.progress("late");
      return 1;
    });
    await app.start();
    try {
      const job = await slow.addTask();
      await reported.promise;
      const controller = new AbortController();
      const first = deferred<unknown>();
      const seen: unknown[] = [];
      await job.onProgress((progress) => {
        seen.push(progress);
        first.resolve(progress);
      }, { signal: controller.signal });
      assert.equal(await first.promise, "half");
      controller.abort();
      // A second listener, still on, sees the next report: the aborted one must not.
      const late = deferred();
      await job.onProgress((progress) => {
        if (progress === "late") late.resolve();
      });
      release.resolve();
      await late.promise;
      await job.result({ timeoutMs: 10_000 });
      assert.deepEqual(seen, ["half"], "nothing is delivered after the abort");
    } finally {
      await app.flushAll();
      await app.stop();
    }
  });
}

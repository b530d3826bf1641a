import { test } from "node:test";
import assert from "node:assert/strict";
import { QueueTasks } from "../../mod.ts";
import { RedisBroker } from "../../src/backends/redis/mod.ts";
import type { ExchangeRequest, ExchangeResult } from "../../src/ports/mod.ts";
import { deferred, testRedisUrl, uniqueName } from "../support/deferred.ts";

/** A Redis broker that can hold back the reply of one exchange and reports wake-ups. */
class HoldingBroker extends RedisBroker {
  hold: Promise<void> | undefined;
  held = deferred();
  woke = deferred();
  override async exchange(request: ExchangeRequest): Promise<ExchangeResult> {
    const hold = this.hold;
    this.hold = undefined;
    const result = await super.exchange(request);
    if (hold) {
      this.held.resolve();
      await hold;
    }
    return result;
  }
  override async waitForTasks(
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<ExchangeResult | undefined> {
    // Without the claim riding on the wake-up: the worker then claims in a separate exchange,
    // the path where a wake-up could be lost.
    await super.waitForTasks(timeoutMs, signal);
    if (!signal.aborted) this.woke.resolve();
    return undefined;
  }
}

test("a wake-up that arrives while an empty claim is in flight is not lost", async () => {
  const name = uniqueName("missed-wake");
  const broker = new HoldingBroker({ name, url: testRedisUrl() });
  const app = new QueueTasks({
    broker,
    env: false,
    config: { logsDefaultLevel: "silent", maxTasksProcess: 2, idleWakeMs: 10_000 },
  });
  const releaseA = deferred();
  const startedA = deferred();
  const task = app.task("t", async (label: string) => {
    if (label === "A") {
      startedA.resolve();
      await releaseA.promise;
    }
    return label;
  });
  await app.start();
  try {
    const a = await task.addTask("A");
    await startedA.promise; // the worker now waits for more tasks (the queue is empty)
    const letGo = deferred();
    broker.hold = letGo.promise;
    broker.woke = deferred();
    releaseA.resolve(); // A's settlement goes out with a claim that finds nothing...
    await broker.held.promise; // ...and its reply is held back
    const b = await task.addTask("B"); // wakes the waiting worker meanwhile
    await broker.woke.promise;
    letGo.resolve();
    assert.equal(await a.value({ timeoutMs: 5_000 }), "A");
    // Without the fix the worker forgot the wake-up and slept for idleWakeMs (10 s).
    assert.equal(await b.value({ timeoutMs: 3_000 }), "B");
  } finally {
    await app.flushAll();
    await app.stop();
  }
});

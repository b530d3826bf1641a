/**
 * The contract of `Broker.reportProgress`, run against every implementation (see
 * memory_broker_test.ts and redis_broker_test.ts): progress is stored on the record only for the
 * worker holding the task's current delivery.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Broker } from "../../src/ports/mod.ts";
import { appName, componentContext, exchangeRequest, mustGet, newTask } from "./broker_contract.ts";

/**
 * Registers the progress contract tests of one Broker implementation.
 *
 * @param label The implementation, first word of every test name.
 * @param makeBroker Makes a new, unstarted broker for app `name`.
 */
export function progressContract(
  label: string,
  makeBroker: (name: string) => Broker | Promise<Broker>,
): void {
  async function withBroker(body: (broker: Broker) => Promise<void>): Promise<void> {
    const broker = await makeBroker(appName());
    try {
      await broker.start(componentContext());
      await body(broker);
    } finally {
      try {
        await broker.flushAll();
      } finally {
        await broker.stop();
      }
    }
  }

  test(`${label} stores the progress a running task reports on its record, each report replacing the last`, () =>
    withBroker(async (broker) => {
      const task = newTask();
      await broker.add(task);
      assert.equal((await mustGet(broker, task.uuid)).progress, undefined);
      await broker.exchange(exchangeRequest({ want: 1 }));
      assert.equal(await broker.reportProgress("worker-a", task.uuid, 1, "0.25"), true);
      assert.equal((await mustGet(broker, task.uuid)).progress, 0.25);
      assert.equal(
        await broker.reportProgress("worker-a", task.uuid, 1, '{"done":3,"total":4}'),
        true,
      );
      const record = await mustGet(broker, task.uuid);
      assert.deepEqual(record.progress, { done: 3, total: 4 });
      assert.equal(record.status, "process");
      assert.deepEqual(record.extra, {}, "progress is a QTasks field, not an extra one");
    }));

  test(`${label} refuses progress from another worker, an older delivery, a queued or a settled task, and writes nothing`, () =>
    withBroker(async (broker) => {
      const task = newTask();
      await broker.add(task);
      assert.equal(await broker.reportProgress("worker-a", task.uuid, 0, "1"), false, "queued");
      await broker.exchange(exchangeRequest({ want: 1 }));
      assert.equal(await broker.reportProgress("worker-b", task.uuid, 1, "1"), false, "not owner");
      assert.equal(await broker.reportProgress("worker-a", task.uuid, 2, "1"), false, "delivery");
      assert.equal(await broker.reportProgress("worker-a", crypto.randomUUID(), 1, "1"), false);
      assert.equal((await mustGet(broker, task.uuid)).progress, undefined);

      assert.equal(await broker.reportProgress("worker-a", task.uuid, 1, '"half"'), true);
      await broker.exchange(exchangeRequest({
        settlements: [{ uuid: task.uuid, deliveries: 1, status: "success", returning: "3" }],
      }));
      assert.equal(await broker.reportProgress("worker-a", task.uuid, 1, '"late"'), false);
      const record = await mustGet(broker, task.uuid);
      assert.equal(record.status, "success");
      assert.equal(record.progress, "half", "the last progress stays on the finished record");
    }));
}

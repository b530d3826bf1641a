/**
 * The PostgreSQL exchange's round trips: the common exchange (plain settlements and a claim) is
 * one statement, a call of `qt_exchange` (migration 4); an exchange it does not cover (a retry)
 * still works, through the general path. Counts the statements the broker sends through its
 * connection. Needs PostgreSQL at QTASKS_TEST_POSTGRES_URL.
 *
 * @module
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { PostgresConnection } from "../../src/backends/postgres/mod.ts";
import { exchangeRequest, newTask } from "../contract/broker_contract.ts";
import { type CountedBroker, countedBroker } from "../support/counted_broker.ts";
import { testPostgresUrl, uniqueSchema } from "../support/postgres.ts";

const url = testPostgresUrl();
const schema = uniqueSchema("trips");
const connection = new PostgresConnection({ url, schema });
connection.acquire();

after(async () => {
  await connection.sql.unsafe(`drop schema if exists "${schema}" cascade`);
  await connection.release();
});

const counted = (): Promise<CountedBroker> => countedBroker(connection);

test("an exchange that settles plain results and claims is one statement", async () => {
  const { broker, sent, restore } = await counted();
  try {
    const tasks = [newTask(), newTask(), newTask()];
    for (const task of tasks) await broker.add(task);
    const before = sent();
    const first = await broker.exchange(exchangeRequest({ want: 2 }));
    assert.deepEqual(first.claimed.map((task) => task.uuid), tasks.slice(0, 2).map((t) => t.uuid));
    assert.equal(sent() - before, 1);
    const [done, failed] = first.claimed;
    const middle = sent();
    const second = await broker.exchange(exchangeRequest({
      want: 5,
      settlements: [
        { uuid: done.uuid, deliveries: done.deliveries, status: "success", returning: "3" },
        {
          uuid: failed.uuid,
          deliveries: failed.deliveries,
          status: "error",
          error: { type: "Error", message: "boom" },
        },
      ],
    }));
    assert.equal(sent() - middle, 1);
    assert.deepEqual(second.rejected, []);
    assert.deepEqual(second.claimed.map((task) => task.uuid), [tasks[2].uuid]);
    assert.equal((await broker.get(done.uuid))?.status, "success");
    assert.equal((await broker.get(failed.uuid))?.status, "error");
  } finally {
    restore();
    await broker.flushAll();
    await broker.stop();
  }
});

test("an exchange with a retry goes through the general path and stores it", async () => {
  const { broker, sent, restore } = await counted();
  try {
    const task = newTask();
    await broker.add(task);
    const [claimed] = (await broker.exchange(exchangeRequest({ want: 1 }))).claimed;
    const before = sent();
    const child = crypto.randomUUID();
    const result = await broker.exchange(exchangeRequest({
      settlements: [{
        uuid: claimed.uuid,
        deliveries: claimed.deliveries,
        status: "retry",
        error: { type: "Error", message: "again" },
        childUuid: child,
        delayMs: 0,
        retriesLeft: 2,
      }],
    }));
    assert.ok(sent() - before > 1);
    assert.deepEqual(result.rejected, []);
    assert.equal((await broker.get(claimed.uuid))?.status, "retry");
    assert.equal((await broker.get(child))?.status, "new");
  } finally {
    restore();
    await broker.flushAll();
    await broker.stop();
  }
});

/**
 * Redis-only reliability checks (issue 16): what a hand-written queue entry, a deleted leases key,
 * a lost exchange reply and a blocked event loop do.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { QueueTasks } from "../../mod.ts";
import { RedisBroker } from "../../src/backends/redis/mod.ts";
import {
  appName,
  componentContext,
  exchangeRequest,
  mustGet,
  newTask,
} from "../contract/broker_contract.ts";
import { testRedisUrl } from "../support/deferred.ts";

/** Runs `body` with a started broker of a fresh app; always flushes and stops it. */
async function withBroker(body: (broker: RedisBroker) => Promise<void>): Promise<void> {
  const broker = new RedisBroker({ name: appName(), url: testRedisUrl() });
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

test("A queue entry written by hand for a finished task is dropped, never run again", () =>
  withBroker(async (broker) => {
    const task = newTask();
    await broker.add(task);
    await broker.exchange(exchangeRequest({ want: 1 }));
    await broker.exchange(exchangeRequest({
      settlements: [{ uuid: task.uuid, deliveries: 1, status: "success", returning: "1" }],
    }));
    // An attacker with write access to the queue key replays the finished task.
    await broker.connection.command([
      "ZADD",
      broker.keys.queue,
      "-1000000000",
      `000000000000000:${task.uuid}`,
    ]);
    const claim = await broker.exchange(exchangeRequest({ workerId: "worker-b", want: 5 }));
    assert.deepEqual(claim.claimed, [], "a finished task is not claimed");
    assert.deepEqual(claim.dropped, [task.uuid], "the entry is dropped and reported once");
    const record = await mustGet(broker, task.uuid);
    assert.equal(record.status, "success");
    assert.equal(record.deliveries, 1, "it ran once");
  }));

test("A running task's queue entry written again by hand does not give it a second delivery", () =>
  withBroker(async (broker) => {
    const task = newTask();
    await broker.add(task);
    await broker.exchange(exchangeRequest({ want: 1 }));
    await broker.connection.command([
      "ZADD",
      broker.keys.queue,
      "0",
      `000000000000000:${task.uuid}`,
    ]);
    const claim = await broker.exchange(exchangeRequest({ workerId: "worker-b", want: 5 }));
    assert.deepEqual(claim.claimed, []);
    assert.equal((await mustGet(broker, task.uuid)).workerId, "worker-a");
  }));

test("Settlements are stored when the leases key was deleted while their tasks ran", () =>
  withBroker(async (broker) => {
    const [one, two] = [newTask(), newTask()];
    await broker.add(one);
    await broker.add(two);
    await broker.exchange(exchangeRequest({ want: 2 }));
    await broker.connection.command(["DEL", broker.keys.leases]);
    const result = await broker.exchange(exchangeRequest({
      settlements: [
        { uuid: one.uuid, deliveries: 1, status: "success", returning: "1" },
        { uuid: two.uuid, deliveries: 1, status: "error", error: { type: "E", message: "m" } },
      ],
    }));
    assert.deepEqual(result.rejected, [], "the records prove worker-a still ran them");
    assert.equal((await mustGet(broker, one.uuid)).status, "success");
    assert.equal((await mustGet(broker, two.uuid)).status, "error");
  }));

test("A lease renewal writes back the leases the deleted leases key lost, so recovery sees them again", () =>
  withBroker(async (broker) => {
    const task = newTask();
    await broker.add(task);
    await broker.exchange(exchangeRequest({ want: 1 }));
    await broker.connection.command(["DEL", broker.keys.leases]);
    const renewal = await broker.extendLeases(
      "worker-a",
      [{ uuid: task.uuid, deliveries: 1 }],
      30_000,
    );
    assert.deepEqual(renewal.lost, []);
    assert.equal(await broker.connection.command(["ZCARD", broker.keys.leases]), 1);
    // Another worker's renewal of the same task is refused.
    const foreign = await broker.extendLeases(
      "worker-b",
      [{ uuid: task.uuid, deliveries: 1 }],
      30_000,
    );
    assert.deepEqual(foreign.lost, [task.uuid]);
  }));

test("A settlement sent again after its reply was lost is taken as stored, not as a lost lease", () =>
  withBroker(async (broker) => {
    const task = newTask();
    await broker.add(task);
    await broker.exchange(exchangeRequest({ want: 1 }));
    const settle = exchangeRequest({
      settlements: [{ uuid: task.uuid, deliveries: 1, status: "success", returning: "7" }],
    });
    await broker.exchange(settle);
    // The worker never saw the reply (a Redis freeze past backendTimeoutMs) and sends it again.
    const again = await broker.exchange(settle);
    assert.deepEqual(again.rejected, []);
    assert.equal((await mustGet(broker, task.uuid)).returning, 7);
  }));

test("A forged final-status message on the events channel does not decide what result() returns", () =>
  withBroker(async (broker) => {
    const task = newTask();
    await broker.add(task);
    const waiting = broker.storage.waitForStatus(task.uuid, {
      statuses: ["success", "error", "cancel"],
      timeoutMs: 1_500,
    });
    // Once the waiter is subscribed (it subscribes before it reads), forge a success.
    let record = await broker.get(task.uuid);
    assert.equal(record?.status, "new");
    // PUBLISH answers how many subscribers got the message: forge until the waiter has one.
    let received = 0;
    for (let i = 0; i < 100 && received === 0; i++) {
      received = Number(
        await broker.connection.command([
          "PUBLISH",
          broker.keys.events,
          `${task.uuid} success {"returning":"\\"forged\\"","status":"success"}`,
        ]),
      );
      if (received === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(received > 0, "the waiter received the forged message");
    record = await waiting;
    assert.equal(record?.status, "new", "the record, not the message, decides");
    assert.equal(record?.returning, undefined);
  }));

test("flushAll then stop leaves no key of the app: the worker's last stats report writes no totals back", async () => {
  const name = appName();
  const app = new QueueTasks({
    name,
    brokerUrl: testRedisUrl(),
    env: false,
    config: { logsDefaultLevel: "silent", statsIntervalMs: 60_000 },
  });
  const echo = app.task("echo", (n: number) => n);
  await app.start();
  let stopped = false;
  try {
    await Promise.all(
      [1, 2, 3].map(async (n) => (await echo.addTask(n)).value({ timeoutMs: 5_000 })),
    );
    await app.flushAll();
    await app.stop();
    stopped = true;
    const broker = app.broker as RedisBroker;
    const probe = new RedisBroker({ name, url: testRedisUrl() });
    try {
      const [, keys] = await probe.connection.command([
        "SCAN",
        "0",
        "MATCH",
        `{${name}}:*`,
        "COUNT",
        "10000",
      ]) as [string, string[]];
      assert.deepEqual(keys, [], `keys left: ${keys.join(", ")} (${broker.name})`);
    } finally {
      await probe.stop();
    }
  } finally {
    if (!stopped) await app.stop();
  }
});

/** The server's count of blocked clients (INFO clients). */
async function blockedClients(broker: RedisBroker): Promise<number> {
  const info = String(await broker.connection.command(["INFO", "clients"]));
  return Number(/blocked_clients:(\d+)/.exec(info)?.[1] ?? 0);
}

test("A stopped wait is ended on the server: the claim riding on it answers, and nothing claims later", () =>
  withBroker(async (broker) => {
    const before = await blockedClients(broker);
    const controller = new AbortController();
    const waiting = broker.waitForTasks(5_000, controller.signal, exchangeRequest({ want: 1 }));
    // The worker's wait is blocked on the server (a bounded check of the server's state).
    const deadline = performance.now() + 5_000;
    while (await blockedClients(broker) <= before) {
      assert.ok(performance.now() < deadline, "the wait never blocked on the server");
    }
    controller.abort();
    const result = await waiting;
    assert.ok(result !== undefined, "the claim behind the blocking command answered");
    assert.deepEqual(result.claimed, []);
    assert.equal(await blockedClients(broker), before, "no command is left blocked");
    // A task enqueued now is not taken by a wait that was stopped.
    const late = newTask();
    await broker.add(late);
    assert.equal((await mustGet(broker, late.uuid)).status, "new");
  }));

/**
 * One app split into partitions (`redis: { partitions }`, `?partitions=K`): tasks spread over the
 * partitions' hash tags, workers drain every partition, and lookups by uuid (results, cancel,
 * the operations API) find a record wherever it lives. Needs Redis at QTASKS_TEST_REDIS_URL (a
 * `?partitions=` there is replaced by each test's own count).
 *
 * @module
 */
import assert from "node:assert/strict";
import process from "node:process";
import { test } from "node:test";
import {
  partitionKeys,
  partitionOf,
  RedisBroker,
  RedisConnection,
} from "../../src/backends/redis/mod.ts";
import { componentContext, exchangeRequest, newTask } from "../contract/broker_contract.ts";
import { uniqueName } from "../support/deferred.ts";

const base = (process.env.QTASKS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379")
  .replace(/[?&]partitions=\d+/, "");

async function withBroker(
  partitions: number,
  body: (broker: RedisBroker) => Promise<void>,
): Promise<void> {
  const broker = new RedisBroker({ name: uniqueName("parts"), url: base, redis: { partitions } });
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

/** A task whose uuid falls in partition `p` of `count`. */
function taskIn(p: number, count: number, overrides: Parameters<typeof newTask>[0] = {}) {
  for (;;) {
    const task = newTask(overrides);
    if (partitionOf(task.uuid, count) === p) return task;
  }
}

test("partition 0 keeps the unpartitioned layout and partition p has the hash tag {app:p}", () => {
  const keys = partitionKeys("shop", 3);
  assert.deepEqual(keys.map((k) => k.queue), ["{shop}:queue", "{shop:1}:queue", "{shop:2}:queue"]);
  assert.equal(partitionOf("any-uuid", 1), 0);
  assert.throws(() => partitionKeys("shop", 0), RangeError);
  assert.throws(() => partitionKeys("shop", 1.5), RangeError);
});

test("the URL's ?partitions=K sets the count and is not passed on to the client", async () => {
  const connection = new RedisConnection({ url: `${base}?partitions=4` });
  try {
    assert.equal(connection.partitions, 4);
    assert.equal(connection.redactedUrl.includes("partitions"), false);
    assert.equal(await connection.command(["PING"]), "PONG");
  } finally {
    await connection.close();
  }
  assert.throws(() => new RedisConnection({ url: `${base}?partitions=0` }), RangeError);
  assert.throws(
    () => new RedisConnection({ url: `${base}?partitions=2`, partitions: 3 }),
    TypeError,
  );
});

test("a partitioned app stores each task under its uuid's partition and claims from all of them", () =>
  withBroker(3, async (broker) => {
    const tasks = [0, 1, 2].flatMap((p) => [taskIn(p, 3), taskIn(p, 3)]);
    for (const task of tasks) await broker.add(task);
    for (const task of tasks) {
      const key = broker.partitions[partitionOf(task.uuid, 3)].task(task.uuid);
      assert.equal(await broker.connection.command(["EXISTS", key]), 1, key);
    }
    // One claim of 2 at a time: each starts at the next partition, so none waits for the others.
    const firstRound: number[] = [];
    for (let i = 0; i < 3; i++) {
      const claim = await broker.exchange(exchangeRequest({ want: 2 }));
      assert.equal(claim.claimed.length, 2);
      firstRound.push(partitionOf(claim.claimed[0].uuid, 3));
    }
    assert.deepEqual([...firstRound].sort(), [0, 1, 2], "each partition is visited first in turn");
    assert.deepEqual((await broker.exchange(exchangeRequest({ want: 10 }))).claimed, []);
  }));

test("a claim that spans partitions hands the most urgent tasks first and settles each in its own partition", () =>
  withBroker(3, async (broker) => {
    const tasks = [taskIn(0, 3, { priority: 5 }), taskIn(1, 3, { priority: -1 }), taskIn(2, 3)];
    for (const task of tasks) await broker.add(task);
    const claim = await broker.exchange(exchangeRequest({ want: 10 }));
    assert.deepEqual(claim.claimed.map((t) => t.priority), [-1, 0, 5]);
    const settled = await broker.exchange(exchangeRequest({
      settlements: claim.claimed.map((t) => ({
        uuid: t.uuid,
        deliveries: 1,
        status: "success" as const,
        returning: `"${t.uuid}"`,
      })),
    }));
    assert.deepEqual(settled.rejected, []);
    for (const task of tasks) {
      const record = await broker.get(task.uuid);
      assert.equal(record?.status, "success");
      assert.equal(record?.returning, task.uuid);
    }
    const stats = await broker.queueStats();
    assert.equal(stats.queued, 0);
    assert.equal(stats.inFlight, 0);
  }));

test("a retry's attempt stays in its parent's partition and is found by its uuid", () =>
  withBroker(3, async (broker) => {
    const task = taskIn(1, 3);
    await broker.add(task);
    await broker.exchange(exchangeRequest({ want: 1 }));
    // A child uuid of another partition: the record lives in partition 1 all the same.
    const child = taskIn(2, 3).uuid;
    await broker.exchange(exchangeRequest({
      settlements: [{
        uuid: task.uuid,
        deliveries: 1,
        status: "retry",
        error: { type: "Error", message: "again" },
        childUuid: child,
        delayMs: 0,
        retriesLeft: 1,
      }],
    }));
    assert.equal(await broker.connection.command(["EXISTS", broker.partitions[1].task(child)]), 1);
    assert.equal((await broker.get(child))?.status, "new");
    assert.equal((await broker.storage.get(child))?.status, "new");
    assert.equal(await broker.cancel(child, "stop", 60_000), "cancelled");
    assert.equal((await broker.get(child))?.status, "cancel");
    assert.equal(await broker.operations.delete(child), true);
    assert.equal(await broker.get(child), undefined);
  }));

test("the operations of a partitioned app count, list, pause and drain every partition", () =>
  withBroker(3, async (broker) => {
    const ops = broker.operations;
    const tasks = Array.from({ length: 12 }, (_, i) => taskIn(i % 3, 3, { taskName: "n" }));
    for (const task of tasks) await broker.add(task);
    const counts = await ops.counts();
    assert.equal(counts.byStatus.queued, 12);
    assert.equal(counts.byTaskName.n.queued, 12);

    // Pages of 5: every record once, newest first within each partition.
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await ops.list({ limit: 5, ...(cursor ? { cursor } : {}) });
      seen.push(...page.records.map((r) => r.uuid));
      cursor = page.cursor;
    } while (cursor !== undefined);
    assert.deepEqual([...seen].sort(), tasks.map((t) => t.uuid).sort());

    await ops.pause("n");
    assert.deepEqual((await broker.exchange(exchangeRequest({ want: 20 }))).claimed, []);
    for (const keys of broker.partitions) {
      assert.deepEqual(await broker.connection.command(["HKEYS", `${keys.prefix}paused`]), ["n"]);
    }
    await ops.resume("n");
    assert.equal(await ops.drain(), 12);
    assert.equal((await ops.counts()).byStatus.queued, 0);
  }));

test("a result waiter hears a settlement in any partition", () =>
  withBroker(3, async (broker) => {
    for (const p of [0, 1, 2]) {
      const task = taskIn(p, 3);
      await broker.add(task);
      const waiting = broker.storage.waitForStatus(task.uuid, {
        statuses: ["success"],
        timeoutMs: 10_000,
      });
      const claim = await broker.exchange(exchangeRequest({ want: 5 }));
      await broker.exchange(exchangeRequest({
        settlements: claim.claimed.map((t) => ({
          uuid: t.uuid,
          deliveries: 1,
          status: "success" as const,
          returning: "1",
        })),
      }));
      assert.equal((await waiting)?.status, "success");
    }
  }));

test("concurrency and rate limits hold across partitions: a limited task goes to its name's partition", () =>
  withBroker(3, async (broker) => {
    // Uuids from every partition: by uuid they would spread, and each partition would count alone.
    const limited = [0, 1, 2].map((p) =>
      taskIn(p, 3, { taskName: "send", concurrency: { slot: "send", limit: 1 } })
    );
    const rated = [0, 1, 2].map((p) =>
      taskIn(p, 3, { taskName: "call", rateLimit: { slot: "call", limit: 1, durationMs: 600_000 } })
    );
    for (const task of [...limited, ...rated]) await broker.add(task);
    for (
      const [task, name] of [...limited.map((t) => [t, "send"]), ...rated.map((t) => [t, "call"])]
    ) {
      const key = broker.partitions[partitionOf(name as string, 3)].task(
        (task as typeof limited[0]).uuid,
      );
      assert.equal(await broker.connection.command(["EXISTS", key]), 1, key);
    }
    const claimed: string[] = [];
    for (let round = 0; round < 6; round++) {
      const result = await broker.exchange(exchangeRequest({ workerId: `w${round}`, want: 10 }));
      claimed.push(...result.claimed.map((t) => t.taskName));
    }
    assert.deepEqual(
      claimed.sort(),
      ["call", "send"],
      "one of each: the limits are not multiplied",
    );
    // Lookups by uuid still find them.
    for (const task of [...limited, ...rated]) assert.ok(await broker.get(task.uuid), task.uuid);
  }));

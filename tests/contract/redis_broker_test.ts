/**
 * The Broker/Storage/GlobalConfig contract, run against the Redis backend, plus Redis-only
 * checks: record TTLs, the `{name}` hash tag on every key, and isolation between apps. Needs
 * Redis at redis://127.0.0.1:6379, or at QTASKS_TEST_REDIS_URL.
 *
 * @module
 */
import assert from "node:assert/strict";
import process from "node:process";
import { test } from "node:test";
import { partitionOf, RedisBroker } from "../../src/backends/redis/mod.ts";
import type { NewTask } from "../../src/ports/mod.ts";
import { partition0Uuids, partitionsOf } from "../support/redis_partitions.ts";
import type { Broker } from "../../src/ports/mod.ts";
import {
  appName,
  brokerContract,
  componentContext,
  exchangeRequest,
  mustGet,
  newTask as anyTask,
} from "./broker_contract.ts";
import { progressContract } from "./progress_contract.ts";

const url = process.env.QTASKS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
/** The URL's partitions (`?partitions=K`: the suite then runs on a partitioned app). */
const partitions = partitionsOf(url);
/** A uuid of partition 0 (any uuid with one partition). */
const partition0Uuid = partition0Uuids(partitions);

/** A task of partition 0: the Redis-only tests below read its keys under `{name}`. */
function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return anyTask({ uuid: partition0Uuid(), ...overrides });
}

function makeRedisBroker(name: string): RedisBroker {
  return new RedisBroker({ name, url });
}

/** Sends a raw command on the broker's connection. */
function raw(broker: Broker, args: string[]): Promise<unknown> {
  return (broker as RedisBroker).connection.command(args);
}

brokerContract(
  partitions > 1 ? `RedisBroker (${partitions} partitions)` : "RedisBroker",
  makeRedisBroker,
  {
    sharedState: true,
    corrupt: async (broker, uuid) => {
      const keys = (broker as RedisBroker).partitions[partitionOf(uuid, partitions)];
      assert.equal(await raw(broker, ["DEL", keys.task(uuid)]), 1);
    },
    // Priority and FIFO hold within a partition (docs/redis-cluster.md).
    orderedUuid: partition0Uuid,
  },
);

/** Runs `body` with started brokers of fresh apps; always flushes and stops them. */
async function withRedisBrokers(
  names: string[],
  body: (...brokers: RedisBroker[]) => Promise<void>,
): Promise<void> {
  const brokers = names.map(makeRedisBroker);
  try {
    for (const broker of brokers) await broker.start(componentContext());
    await body(...brokers);
  } finally {
    for (const broker of brokers) {
      try {
        await broker.flushAll();
      } finally {
        await broker.stop();
      }
    }
  }
}

/** Every key whose name mentions `text` (SCAN, so it never blocks the server). */
async function keysMentioning(broker: Broker, text: string): Promise<string[]> {
  const pattern = "*" + text.replace(/[*?[\]\\]/g, "\\$&") + "*";
  const keys: string[] = [];
  let cursor = "0";
  do {
    const reply = await raw(broker, ["SCAN", cursor, "MATCH", pattern, "COUNT", "1000"]) as [
      string,
      string[],
    ];
    cursor = reply[0];
    keys.push(...reply[1]);
  } while (cursor !== "0");
  return keys.sort();
}

test("RedisBroker gives finished records an expiry of at most resultTtlMs", () =>
  withRedisBrokers([appName()], async (broker) => {
    const resultTtlMs = 45_000;
    const [ok, failed, cancelled, running, queued] = Array.from({ length: 5 }, () => newTask());
    for (const task of [ok, failed, cancelled, running]) await broker.add(task);
    await broker.exchange(exchangeRequest({ want: 4 }));
    await broker.add(queued);
    await broker.exchange(exchangeRequest({
      resultTtlMs,
      settlements: [
        { uuid: ok.uuid, deliveries: 1, status: "success", returning: "1" },
        { uuid: failed.uuid, deliveries: 1, status: "error", error: { type: "E", message: "m" } },
        { uuid: cancelled.uuid, deliveries: 1, status: "cancel", reason: "r" },
      ],
    }));
    for (const task of [ok, failed, cancelled]) {
      const pttl = Number(await raw(broker, ["PTTL", `{${broker.name}}:task:${task.uuid}`]));
      assert.ok(pttl > 0 && pttl <= resultTtlMs, `PTTL ${pttl} should be in (0, ${resultTtlMs}]`);
    }
    for (const task of [running, queued]) {
      const pttl = Number(await raw(broker, ["PTTL", `{${broker.name}}:task:${task.uuid}`]));
      assert.equal(pttl, -1, "a queued or running record never expires");
    }
  }));

test("RedisBroker DeliveryLimitError records expire too", () =>
  withRedisBrokers([appName()], async (broker) => {
    const task = newTask();
    await broker.add(task);
    await broker.exchange(exchangeRequest({ want: 1, leaseMs: 1, maxDeliveries: 1 }));
    const deadline = Date.now() + 5_000;
    const signal = new AbortController().signal;
    for (;;) {
      const result = await broker.exchange(
        exchangeRequest({ workerId: "worker-b", resultTtlMs: 30_000, maxDeliveries: 1 }),
      );
      if (result.recovered > 0) break;
      assert.ok(Date.now() < deadline, "the 1 ms lease should expire");
      await broker.waitForTasks(10, signal);
    }
    assert.equal((await mustGet(broker, task.uuid)).error?.code, "DELIVERY_LIMIT");
    const pttl = Number(await raw(broker, ["PTTL", `{${broker.name}}:task:${task.uuid}`]));
    assert.ok(pttl > 0 && pttl <= 30_000, `PTTL ${pttl}`);
  }));

test("RedisBroker keeps every key of an app under its {name} hash tag", () =>
  withRedisBrokers([appName()], async (broker) => {
    const name = broker.name;
    const globalConfig = broker.storage.globalConfig;
    assert.ok(globalConfig);
    await globalConfig.set("limits", "email", "1");
    const [done, running, queued] = Array.from({ length: 3 }, () => newTask());
    const later = newTask({ delayMs: 60_000 });
    await broker.add(later);
    await broker.add(done);
    await broker.add(running);
    await broker.exchange(exchangeRequest({ want: 2 }));
    await broker.exchange(exchangeRequest({
      settlements: [{ uuid: done.uuid, deliveries: 1, status: "success", returning: "1" }],
    }));
    await broker.add(queued);

    const keys = await keysMentioning(broker, name);
    for (const key of keys) assert.ok(key.startsWith(`{${name}}:`), `key ${key} lacks the tag`);
    for (
      const expected of [
        "queue",
        "leases",
        "seq",
        "scheduled",
        "GlobalConfig:limits",
        "GlobalConfig:main",
        "GlobalConfig:heartbeats",
        `task:${done.uuid}`,
        `task:${running.uuid}`,
        `task:${queued.uuid}`,
        `task:${later.uuid}`,
      ]
    ) {
      assert.ok(keys.includes(`{${name}}:${expected}`), `expected key {${name}}:${expected}`);
    }

    await broker.flushAll();
    assert.deepEqual(await keysMentioning(broker, name), [], "flushAll leaves no key");
  }));

test("RedisBroker apps with different names do not see each other's tasks", () => {
  const base = appName();
  return withRedisBrokers([base, `${base}-other`], async (one, other) => {
    const mine = newTask();
    const theirs = newTask();
    await one.add(mine);
    await other.add(theirs);
    assert.equal(await other.get(mine.uuid), undefined);
    assert.equal(await one.get(theirs.uuid), undefined);

    const claimedByOther = await other.exchange(exchangeRequest({ want: 10 }));
    assert.deepEqual(claimedByOther.claimed.map((t) => t.uuid), [theirs.uuid]);
    assert.deepEqual(claimedByOther.rejected, []);
    // A settlement for a task of another app is rejected.
    const foreign = await other.exchange(exchangeRequest({
      settlements: [{ uuid: mine.uuid, deliveries: 1, status: "success", returning: "1" }],
    }));
    assert.deepEqual(foreign.rejected, [mine.uuid]);

    await other.flushAll();
    assert.equal((await mustGet(one, mine.uuid)).status, "new", "flushAll of another app");
    const claimedByOne = await one.exchange(exchangeRequest({ want: 10 }));
    assert.deepEqual(claimedByOne.claimed.map((t) => t.uuid), [mine.uuid]);
  });
});

test("RedisBroker flushAll of an app whose name has glob characters deletes only its keys", () => {
  const base = appName();
  return withRedisBrokers([`${base}*`, `${base}-other`, `${base}?[x]`], async (star, other, q) => {
    const keep = newTask();
    await other.add(keep);
    await q.add(newTask());
    await star.add(newTask());
    await star.flushAll();
    assert.deepEqual(await keysMentioning(star, `${base}*`), []);
    assert.equal((await mustGet(other, keep.uuid)).status, "new");
    await q.flushAll();
    assert.deepEqual(await keysMentioning(q, `${base}?[x]`), []);
    assert.equal((await mustGet(other, keep.uuid)).status, "new");
  });
});

/** Redis server time, in milliseconds. */
async function serverNow(broker: Broker): Promise<number> {
  const [seconds, micros] = await raw(broker, ["TIME"]) as [string, string];
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** The schedule score (due time, ms) of a task, read from `{N}:scheduled`. */
async function scheduledScore(broker: Broker, uuid: string): Promise<number | undefined> {
  const seq = await raw(broker, ["HGET", `{${broker.name}}:task:${uuid}`, "seq"]) as string;
  const member = `${seq.padStart(15, "0")}:${uuid}`;
  const score = await raw(broker, ["ZSCORE", `{${broker.name}}:scheduled`, member]);
  return score === null ? undefined : Number(score);
}

test("RedisBroker schedules a delayed task at Redis server time + delayMs in {N}:scheduled", () =>
  withRedisBrokers([appName()], async (broker) => {
    const task = newTask({ delayMs: 90_000 });
    const before = await serverNow(broker);
    await broker.add(task);
    const after = await serverNow(broker);
    const score = await scheduledScore(broker, task.uuid);
    assert.ok(score !== undefined, "the task is in the schedule");
    assert.ok(
      score >= before + 90_000 && score <= after + 90_000,
      `score ${score} should be server time + 90 000 (${before + 90_000}..${after + 90_000})`,
    );
    const runAt = (await mustGet(broker, task.uuid)).runAt?.getTime();
    assert.equal(runAt, score, "run_at is the same due time");
    assert.equal(await raw(broker, ["ZCARD", `{${broker.name}}:queue`]), 0, "not in the queue");
    assert.equal(await broker.cancel(task.uuid, "", 60_000), "cancelled");
    assert.equal(await scheduledScore(broker, task.uuid), undefined, "cancel unschedules it");
  }));

test("RedisBroker schedules a retry at Redis server time + delayMs and keeps the failed record that much longer", () =>
  withRedisBrokers([appName()], async (broker) => {
    const task = newTask();
    await broker.add(task);
    await broker.exchange(exchangeRequest({ want: 1 }));
    const child = crypto.randomUUID();
    const before = await serverNow(broker);
    await broker.exchange(exchangeRequest({
      resultTtlMs: 30_000,
      settlements: [{
        uuid: task.uuid,
        deliveries: 1,
        status: "retry",
        error: { type: "Error", message: "flaky" },
        childUuid: child,
        delayMs: 120_000,
        retriesLeft: 1,
      }],
    }));
    const after = await serverNow(broker);
    const score = await scheduledScore(broker, child);
    assert.ok(score !== undefined, "the retry is in the schedule");
    assert.ok(
      score >= before + 120_000 && score <= after + 120_000,
      `score ${score} should be server time + 120 000`,
    );
    const pttl = Number(await raw(broker, ["PTTL", `{${broker.name}}:task:${task.uuid}`]));
    assert.ok(pttl > 120_000 && pttl <= 150_000, `PTTL ${pttl} should be resultTtlMs + delayMs`);
    const childTtl = Number(await raw(broker, ["PTTL", `{${broker.name}}:task:${child}`]));
    assert.equal(childTtl, -1, "the scheduled attempt never expires");
  }));

progressContract("RedisBroker", makeRedisBroker);

test('RedisBroker publishes "<uuid> progress" on the events channel when progress is stored', () =>
  withRedisBrokers([appName()], async (broker) => {
    const task = newTask();
    await broker.add(task);
    await broker.exchange(exchangeRequest({ want: 1 }));
    let heard!: (message: string) => void;
    const message = new Promise<string>((resolve) => heard = resolve);
    const unsubscribe = await broker.connection.subscribe(broker.keys.events, (text) => {
      if (text.startsWith(task.uuid)) heard(text);
    });
    try {
      assert.equal(await broker.reportProgress("worker-a", task.uuid, 1, "7"), true);
      assert.equal(await message, `${task.uuid} progress`);
    } finally {
      unsubscribe();
    }
  }));

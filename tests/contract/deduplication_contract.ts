/**
 * The deduplication contract of the Broker port (`NewTask.deduplication`, docs/flow-control.md):
 * throttle joins, debounce replaces a waiting task's arguments and delay, the window's end, what
 * frees a key, the refusals of `addBulk` and `addFlow`, and concurrent producers. Every backend
 * that supports it registers it (deduplication_memory_test.ts, deduplication_redis_test.ts) and
 * must pass it unchanged, observed only through the ports.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AddOutcome, Broker, ExchangeResult, NewTask } from "../../src/ports/mod.ts";
import { appName, componentContext, exchangeRequest, mustGet, newTask } from "./broker_contract.ts";

/** How a backend plugs into the suite. */
export interface DeduplicationContractOptions {
  /** Moves the broker's clock forward by `ms` (else the tests wait for the wall clock). */
  advanceClock?: (broker: Broker, ms: number) => void | Promise<void>;
  /**
   * A second broker of the same app on its own connection (a second producer), started and
   * stopped by the suite; absent: the race runs on the one broker.
   */
  secondProducer?: (name: string) => Broker;
}

function uuidsOf(result: ExchangeResult): string[] {
  return result.claimed.map((task) => task.uuid);
}

function deduped(
  id: string,
  overrides: Partial<NewTask> = {},
  ttlMs = 60_000,
  mode: "throttle" | "debounce" = "throttle",
): NewTask {
  return newTask({ deduplication: { id, ttlMs, mode }, ...overrides });
}

/** The uuid the add resolved with when it joined another task, else undefined. */
function joinedOf(outcome: AddOutcome | void): string | undefined {
  return outcome ? outcome.joined : undefined;
}

/**
 * Registers the deduplication contract tests of one Broker implementation.
 *
 * @param label The implementation, first word of every test name.
 * @param makeBroker Makes a new, unstarted broker for app `name`.
 * @param options Its hooks.
 */
export function deduplicationContract(
  label: string,
  makeBroker: (name: string) => Broker | Promise<Broker>,
  options: DeduplicationContractOptions = {},
): void {
  async function withBroker(body: (broker: Broker, name: string) => Promise<void>): Promise<void> {
    const name = appName();
    const broker = await makeBroker(name);
    try {
      await broker.start(componentContext());
      await body(broker, name);
    } finally {
      try {
        await broker.flushAll();
      } finally {
        await broker.stop();
      }
    }
  }

  /** Lets `ms` pass on the broker's clock (an injected clock, or the wall clock, bounded). */
  async function passTime(broker: Broker, ms: number): Promise<void> {
    if (options.advanceClock) return void await options.advanceClock(broker, ms);
    const until = Date.now() + ms;
    const signal = new AbortController().signal;
    while (Date.now() < until) await broker.waitForTasks(until - Date.now(), signal);
  }

  test(`${label} joins a throttled task to the one holding its id, storing nothing`, () =>
    withBroker(async (broker) => {
      const first = deduped("user-1", { args: '["a"]' });
      const second = deduped("user-1", { args: '["b"]' });
      assert.equal(joinedOf(await broker.add(first)), undefined);
      assert.equal(joinedOf(await broker.add(second)), first.uuid);
      assert.equal(await broker.get(second.uuid), undefined);
      const claim = await broker.exchange(exchangeRequest({ want: 10 }));
      assert.deepEqual(uuidsOf(claim), [first.uuid]);
      assert.equal(claim.claimed[0].args, '["a"]');
      assert.equal((await mustGet(broker, first.uuid)).dedupId, "user-1");
    }));

  test(`${label} keeps ids of different task names and different ids apart`, () =>
    withBroker(async (broker) => {
      const a = deduped("k", { taskName: "a" });
      const b = deduped("k", { taskName: "b" });
      const c = deduped("other", { taskName: "a" });
      for (const task of [a, b, c]) assert.equal(joinedOf(await broker.add(task)), undefined);
      const claim = await broker.exchange(exchangeRequest({ want: 10 }));
      assert.deepEqual(uuidsOf(claim).sort(), [a.uuid, b.uuid, c.uuid].sort());
    }));

  test(`${label} joins a throttled task to a finished one within the window`, () =>
    withBroker(async (broker) => {
      const first = deduped("x");
      await broker.add(first);
      await broker.exchange(exchangeRequest({ want: 1 }));
      await broker.exchange(exchangeRequest({
        settlements: [{ uuid: first.uuid, deliveries: 1, status: "success", returning: "3" }],
      }));
      assert.equal((await mustGet(broker, first.uuid)).status, "success");
      assert.equal(joinedOf(await broker.add(deduped("x"))), first.uuid);
    }));

  test(`${label} stores a new task once the window has passed`, () =>
    withBroker(async (broker) => {
      const first = deduped("x", {}, 40);
      await broker.add(first);
      await passTime(broker, 80);
      const second = deduped("x");
      assert.equal(joinedOf(await broker.add(second)), undefined);
      assert.equal((await mustGet(broker, second.uuid)).status, "new");
      // The new task holds the id now.
      assert.equal(joinedOf(await broker.add(deduped("x"))), second.uuid);
    }));

  test(`${label} frees the id of a cancelled task`, () =>
    withBroker(async (broker) => {
      const first = deduped("x");
      await broker.add(first);
      assert.equal(await broker.cancel(first.uuid, "not needed", 60_000), "cancelled");
      const second = deduped("x");
      assert.equal(joinedOf(await broker.add(second)), undefined);
      assert.deepEqual(uuidsOf(await broker.exchange(exchangeRequest({ want: 10 }))), [
        second.uuid,
      ]);
    }));

  test(`${label} frees the id of a task whose record was deleted`, () =>
    withBroker(async (broker) => {
      if (broker.operations === undefined) return;
      const first = deduped("x");
      await broker.add(first);
      assert.equal(await broker.operations.delete(first.uuid), true);
      const second = deduped("x");
      assert.equal(joinedOf(await broker.add(second)), undefined);
      assert.equal((await mustGet(broker, second.uuid)).status, "new");
    }));

  test(`${label} gives a debounced call's arguments to the waiting task it joins`, () =>
    withBroker(async (broker) => {
      const first = deduped("doc", { args: '["v1"]' }, 60_000, "debounce");
      const second = deduped("doc", { args: '["v2"]' }, 60_000, "debounce");
      const third = deduped("doc", { args: '["v3"]' }, 60_000, "debounce");
      await broker.add(first);
      assert.equal(joinedOf(await broker.add(second)), first.uuid);
      assert.equal(joinedOf(await broker.add(third)), first.uuid);
      assert.equal(await broker.get(third.uuid), undefined);
      const claim = await broker.exchange(exchangeRequest({ want: 10 }));
      assert.deepEqual(uuidsOf(claim), [first.uuid]);
      assert.equal(claim.claimed[0].args, '["v3"]');
    }));

  test(`${label} restarts a debounced task's delay from the call that joins it`, () =>
    withBroker(async (broker) => {
      const first = deduped("doc", { args: '["v1"]', delayMs: 100 }, 60_000, "debounce");
      await broker.add(first);
      await passTime(broker, 60);
      const second = deduped("doc", { args: '["v2"]', delayMs: 800 }, 60_000, "debounce");
      assert.equal(joinedOf(await broker.add(second)), first.uuid);
      // Past the first call's due time: still scheduled, by the second call's delay.
      await passTime(broker, 100);
      assert.deepEqual(uuidsOf(await broker.exchange(exchangeRequest({ want: 1 }))), []);
      const record = await mustGet(broker, first.uuid);
      assert.equal(record.status, "new");
      assert.ok(record.runAt !== undefined);
      await passTime(broker, 800);
      const claim = await broker.exchange(exchangeRequest({ want: 1 }));
      assert.deepEqual(uuidsOf(claim), [first.uuid]);
      assert.equal(claim.claimed[0].args, '["v2"]');
    }));

  test(`${label} queues a scheduled debounced task at once when the joining call has no delay`, () =>
    withBroker(async (broker) => {
      const first = deduped("doc", { delayMs: 60_000 }, 60_000, "debounce");
      await broker.add(first);
      assert.equal(
        joinedOf(await broker.add(deduped("doc", { args: '["now"]' }, 60_000, "debounce"))),
        first.uuid,
      );
      if (broker.operations !== undefined) {
        const counts = await broker.operations.counts();
        assert.equal(counts.byStatus.scheduled, 0);
        assert.equal(counts.byStatus.queued, 1);
      }
      const claim = await broker.exchange(exchangeRequest({ want: 10 }));
      assert.deepEqual(uuidsOf(claim), [first.uuid]);
      assert.equal(claim.claimed[0].args, '["now"]');
    }));

  test(`${label} schedules a queued debounced task when the joining call has a delay`, () =>
    withBroker(async (broker) => {
      const first = deduped("doc", {}, 60_000, "debounce");
      await broker.add(first);
      await broker.add(deduped("doc", { delayMs: 60_000 }, 60_000, "debounce"));
      assert.deepEqual(uuidsOf(await broker.exchange(exchangeRequest({ want: 10 }))), []);
      assert.ok((await mustGet(broker, first.uuid)).runAt !== undefined);
      if (broker.operations === undefined) return;
      // The operator's counts follow the move.
      const counts = await broker.operations.counts();
      assert.equal(counts.byStatus.scheduled, 1);
      assert.equal(counts.byStatus.queued, 0);
    }));

  test(`${label} gives a debounced call's arguments to a task parked by a full concurrency slot, which keeps its place`, () =>
    withBroker(async (broker) => {
      const concurrency = { slot: "s", limit: 1 };
      const running = newTask({ concurrency });
      await broker.add(running);
      assert.deepEqual(uuidsOf(await broker.exchange(exchangeRequest({ want: 1 }))), [
        running.uuid,
      ]);
      const parked = deduped("doc", { args: '["v1"]', concurrency }, 60_000, "debounce");
      await broker.add(parked);
      // The slot is full: the claim parks it.
      assert.deepEqual(uuidsOf(await broker.exchange(exchangeRequest({ want: 1 }))), []);
      const later = deduped("doc", { args: '["v2"]', delayMs: 60_000 }, 60_000, "debounce");
      assert.equal(joinedOf(await broker.add(later)), parked.uuid);
      await broker.exchange(exchangeRequest({
        settlements: [{ uuid: running.uuid, deliveries: 1, status: "success", returning: "3" }],
      }));
      // Freed, it runs at once (the joining call's delay does not apply to a parked task).
      const claim = await broker.exchange(exchangeRequest({ want: 1 }));
      assert.deepEqual(uuidsOf(claim), [parked.uuid]);
      assert.equal(claim.claimed[0].args, '["v2"]');
    }));

  test(`${label} gives a debounced call's deadline to the waiting task it joins`, () =>
    withBroker(async (broker) => {
      const first = deduped("doc", {}, 60_000, "debounce");
      await broker.add(first);
      const second = deduped("doc", { expiresInMs: 30 }, 60_000, "debounce");
      assert.equal(joinedOf(await broker.add(second)), first.uuid);
      assert.ok((await mustGet(broker, first.uuid)).expiresAt !== undefined);
      await passTime(broker, 80);
      // Past the joining call's deadline: the claim ends it instead of running it.
      assert.deepEqual(uuidsOf(await broker.exchange(exchangeRequest({ want: 1 }))), []);
      const record = await mustGet(broker, first.uuid);
      assert.equal(record.status, "cancel");
      assert.equal(record.error?.code, "TASK_EXPIRED");
    }));

  test(`${label} stores a new task for a debounced call once the task holding the id has started`, () =>
    withBroker(async (broker) => {
      const first = deduped("doc", { args: '["v1"]' }, 60_000, "debounce");
      await broker.add(first);
      await broker.exchange(exchangeRequest({ want: 1 }));
      const second = deduped("doc", { args: '["v2"]' }, 60_000, "debounce");
      assert.equal(joinedOf(await broker.add(second)), undefined);
      assert.equal((await mustGet(broker, first.uuid)).args[0], "v1");
      const claim = await broker.exchange(exchangeRequest({ workerId: "worker-b", want: 10 }));
      assert.deepEqual(uuidsOf(claim), [second.uuid]);
      // The new task holds the id: a third call joins it.
      const third = deduped("doc", { args: '["v3"]' }, 60_000, "debounce");
      assert.equal(joinedOf(await broker.add(third)), undefined);
    }));

  test(`${label} refuses deduplication in addBulk and addFlow, storing nothing`, () =>
    withBroker(async (broker) => {
      const plain = newTask();
      const task = deduped("x");
      await assert.rejects(broker.addBulk([plain, task]), TypeError);
      await assert.rejects(broker.addFlow({ records: [], tasks: [plain, task] }), TypeError);
      assert.equal(await broker.get(plain.uuid), undefined);
      assert.equal(await broker.get(task.uuid), undefined);
    }));

  test(`${label} stores exactly one task when two producers race for one id`, async () => {
    const name = appName();
    const broker = await makeBroker(name);
    const other = options.secondProducer?.(name) ?? broker;
    try {
      await broker.start(componentContext());
      if (other !== broker) await other.start(componentContext());
      for (const mode of ["throttle", "debounce"] as const) {
        const tasks = Array.from(
          { length: 40 },
          (_, i) => deduped(`race-${mode}`, { args: `[${i}]` }, 60_000, mode),
        );
        const outcomes = await Promise.all(
          tasks.map((task, i) => (i % 2 === 0 ? broker : other).add(task)),
        );
        const stored = tasks.filter((_, i) => joinedOf(outcomes[i]) === undefined);
        assert.equal(stored.length, 1, `${mode}: one task stored`);
        for (const outcome of outcomes) {
          const joined = joinedOf(outcome);
          if (joined !== undefined) assert.equal(joined, stored[0].uuid);
        }
        const claim = await broker.exchange(exchangeRequest({ want: 100 }));
        assert.deepEqual(uuidsOf(claim), [stored[0].uuid]);
      }
    } finally {
      try {
        await broker.flushAll();
      } finally {
        await broker.stop();
        if (other !== broker) await other.stop();
      }
    }
  });
}

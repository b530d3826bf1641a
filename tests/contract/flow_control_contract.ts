/**
 * The flow-control contract of the Broker port: named queues and routing (which claim takes
 * which task, in which order, and where a task goes back to). Every backend registers it (see
 * flow_control_memory_test.ts and flow_control_redis_test.ts) and must pass it unchanged,
 * observed only through the ports.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Broker, ExchangeResult, NewTask, Settlement } from "../../src/ports/mod.ts";
import {
  appName,
  componentContext,
  exchangeRequest,
  mustGet,
  newTask as anyTask,
  PROMPT_MS,
} from "./broker_contract.ts";

/** How a backend plugs into the suite. */
export interface FlowControlContractOptions {
  /**
   * Makes the uuids of the suite's tasks (default `crypto.randomUUID()`). A partitioned Redis
   * app gives uuids of one partition: the suite checks orders (newest first, priority, FIFO)
   * that a partitioned app promises within one partition only.
   */
  uuid?: () => string;
  /** Moves the broker's clock forward by `ms` (else the tests wait for the wall clock). */
  advanceClock?: (broker: Broker, ms: number) => void | Promise<void>;
  /**
   * `false` for a backend that does not implement the `rateLimit` option yet: its tests are
   * replaced by one that checks the backend refuses such a task and stores nothing.
   */
  rateLimits?: boolean;
}

function uuidsOf(result: ExchangeResult): string[] {
  return result.claimed.map((task) => task.uuid);
}

/** Makes the uuids of the suite's tasks (see the `uuid` option). */
let makeUuid: () => string = () => crypto.randomUUID();

/** A task of the suite, its uuid from {@linkcode makeUuid}. */
function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return anyTask({ uuid: makeUuid(), ...overrides });
}

/**
 * Registers the flow-control contract tests of one Broker implementation.
 *
 * @param label The implementation, first word of every test name.
 * @param makeBroker Makes a new, unstarted broker for app `name`.
 * @param options Its hooks.
 */
export function flowControlContract(
  label: string,
  makeBroker: (name: string) => Broker | Promise<Broker>,
  options: FlowControlContractOptions = {},
): void {
  if (options.uuid) makeUuid = options.uuid;
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

  /** Lets `ms` pass on the broker's clock (an injected clock, or the wall clock, bounded). */
  async function passTime(broker: Broker, ms: number): Promise<void> {
    if (options.advanceClock) return void await options.advanceClock(broker, ms);
    const until = Date.now() + ms;
    const signal = new AbortController().signal;
    while (Date.now() < until) await broker.waitForTasks(until - Date.now(), signal);
  }

  test(`${label} gives a task of a named queue only to a claim that takes from that queue`, () =>
    withBroker(async (broker) => {
      const email = newTask({ queue: "emails" });
      const plain = newTask();
      await broker.add(email);
      await broker.add(plain);
      const byDefault = await broker.exchange(exchangeRequest({ want: 10 }));
      assert.deepEqual(uuidsOf(byDefault), [plain.uuid]);
      const other = await broker.exchange(exchangeRequest({ want: 10, queues: ["reports"] }));
      assert.deepEqual(uuidsOf(other), []);
      const byEmails = await broker.exchange(exchangeRequest({ want: 10, queues: ["emails"] }));
      assert.deepEqual(uuidsOf(byEmails), [email.uuid]);
      assert.equal((await mustGet(broker, email.uuid)).status, "process");
    }));

  test(`${label} treats a task that names the default queue as one that names none`, () =>
    withBroker(async (broker) => {
      const task = newTask({ queue: "default" });
      await broker.add(task);
      const claim = await broker.exchange(exchangeRequest({ want: 1 }));
      assert.deepEqual(uuidsOf(claim), [task.uuid]);
    }));

  test(`${label} visits a claim's queues in its order, emptying the first before the next`, () =>
    withBroker(async (broker) => {
      const low = [newTask({ queue: "low" }), newTask({ queue: "low" })];
      const high = [newTask({ queue: "high" }), newTask({ queue: "high" })];
      const plain = newTask();
      for (const task of [...low, plain, ...high]) await broker.add(task);
      const first = await broker.exchange(
        exchangeRequest({ want: 3, queues: ["high", "default", "low"] }),
      );
      assert.deepEqual(uuidsOf(first), [high[0].uuid, high[1].uuid, plain.uuid]);
      const second = await broker.exchange(
        exchangeRequest({ want: 3, queues: ["high", "default", "low"] }),
      );
      assert.deepEqual(uuidsOf(second), [low[0].uuid, low[1].uuid]);
    }));

  test(`${label} keeps priorities within a named queue`, () =>
    withBroker(async (broker) => {
      const later = newTask({ queue: "q", priority: 5 });
      const sooner = newTask({ queue: "q", priority: -1 });
      await broker.add(later);
      await broker.add(sooner);
      const claim = await broker.exchange(exchangeRequest({ want: 2, queues: ["q"] }));
      assert.deepEqual(uuidsOf(claim), [sooner.uuid, later.uuid]);
    }));

  test(`${label} leaves a task of a named queue whose name the claim does not know, for one that knows it`, () =>
    withBroker(async (broker) => {
      const unknown = newTask({ queue: "q", taskName: "other" });
      const known = newTask({ queue: "q", taskName: "mine" });
      await broker.add(unknown);
      await broker.add(known);
      const mine = await broker.exchange(
        exchangeRequest({ want: 10, queues: ["q"], taskNames: ["mine"] }),
      );
      assert.deepEqual(uuidsOf(mine), [known.uuid]);
      assert.equal((await mustGet(broker, unknown.uuid)).status, "new");
      const theirs = await broker.exchange(
        exchangeRequest({ workerId: "worker-b", want: 10, queues: ["q"], taskNames: ["other"] }),
      );
      assert.deepEqual(uuidsOf(theirs), [unknown.uuid]);
    }));

  test(`${label} takes nothing from a named queue for a claim that knows no task name`, () =>
    withBroker(async (broker) => {
      const task = newTask({ queue: "q" });
      await broker.add(task);
      const none = await broker.exchange(
        exchangeRequest({ want: 1, queues: ["q"], taskNames: [] }),
      );
      assert.deepEqual(uuidsOf(none), []);
      const any = await broker.exchange(exchangeRequest({ want: 1, queues: ["q"] }));
      assert.deepEqual(uuidsOf(any), [task.uuid]);
    }));

  test(`${label} gives a released task of a named queue back to that queue`, () =>
    withBroker(async (broker) => {
      const task = newTask({ queue: "q" });
      await broker.add(task);
      await broker.exchange(exchangeRequest({ want: 1, queues: ["q"] }));
      await broker.exchange(exchangeRequest({
        settlements: [{ uuid: task.uuid, deliveries: 1, status: "release" }],
      }));
      assert.deepEqual(uuidsOf(await broker.exchange(exchangeRequest({ want: 1 }))), []);
      const again = await broker.exchange(exchangeRequest({ want: 1, queues: ["q"] }));
      assert.deepEqual(uuidsOf(again), [task.uuid]);
    }));

  test(`${label} queues the retry of a task of a named queue in that queue`, () =>
    withBroker(async (broker) => {
      const task = newTask({ queue: "q" });
      await broker.add(task);
      await broker.exchange(exchangeRequest({ want: 1, queues: ["q"] }));
      const child = crypto.randomUUID();
      await broker.exchange(exchangeRequest({
        settlements: [{
          uuid: task.uuid,
          deliveries: 1,
          status: "retry",
          error: { type: "Error", message: "flaky" },
          childUuid: child,
          delayMs: 0,
          retriesLeft: 1,
        }],
      }));
      assert.deepEqual(uuidsOf(await broker.exchange(exchangeRequest({ want: 1 }))), []);
      const retried = await broker.exchange(exchangeRequest({ want: 1, queues: ["q"] }));
      assert.deepEqual(uuidsOf(retried), [child]);
    }));

  test(`${label} moves a due delayed task of a named queue into that queue`, () =>
    withBroker(async (broker) => {
      const task = newTask({ queue: "q", delayMs: 50 });
      await broker.add(task);
      await passTime(broker, 100);
      assert.deepEqual(uuidsOf(await broker.exchange(exchangeRequest({ want: 1 }))), []);
      const due = await broker.exchange(exchangeRequest({ want: 1, queues: ["q"] }));
      assert.deepEqual(uuidsOf(due), [task.uuid]);
    }));

  test(`${label} cancels a queued task of a named queue so that no claim takes it`, () =>
    withBroker(async (broker) => {
      const task = newTask({ queue: "q" });
      await broker.add(task);
      assert.equal(await broker.cancel(task.uuid, "not needed", 60_000), "cancelled");
      const claim = await broker.exchange(exchangeRequest({ want: 1, queues: ["q"] }));
      assert.deepEqual(uuidsOf(claim), []);
      assert.equal((await mustGet(broker, task.uuid)).status, "cancel");
    }));

  test(`${label} wakes a claim waiting on a named queue when a task is added to it`, () =>
    withBroker(async (broker) => {
      const signal = new AbortController().signal;
      const task = newTask({ queue: "q" });
      const started = Date.now();
      const waiting = broker.waitForTasks(
        10_000,
        signal,
        exchangeRequest({ want: 1, queues: ["q"] }),
      );
      // The claim is sent behind the wait: the task arrives while it blocks, or before.
      setTimeout(() => void broker.add(task), 50);
      const result = await waiting;
      let claimed = result ? uuidsOf(result) : [];
      if (claimed.length === 0) {
        claimed = uuidsOf(await broker.exchange(exchangeRequest({ want: 1, queues: ["q"] })));
      }
      assert.deepEqual(claimed, [task.uuid]);
      assert.ok(Date.now() - started < PROMPT_MS, "woken promptly, not by the timeout");
    }));

  test(`${label} gives a quarantined task of a named queue only to an idle claim on that queue`, () =>
    withBroker(async (broker) => {
      const task = newTask({ queue: "q" });
      await broker.add(task);
      await broker.exchange(exchangeRequest({ want: 1, queues: ["q"], leaseMs: 50 }));
      await passTime(broker, 100);
      // Recovered into the quarantine by any exchange; a default idle claim leaves it there.
      const other = await broker.exchange(
        exchangeRequest({ workerId: "worker-b", want: 1, idle: true }),
      );
      assert.equal(other.recovered, 1);
      assert.deepEqual(uuidsOf(other), []);
      assert.equal(other.quarantined, 1);
      const mine = await broker.exchange(
        exchangeRequest({ workerId: "worker-c", want: 1, idle: true, queues: ["q"] }),
      );
      assert.deepEqual(uuidsOf(mine), [task.uuid]);
      assert.equal(mine.claimed[0].isolated, true);
    }));

  test(`${label} lists queued tasks of named queues in the operator's queries`, () =>
    withBroker(async (broker) => {
      if (!broker.operations) return;
      const named = newTask({ queue: "q" });
      const plain = newTask();
      await broker.add(named);
      await broker.add(plain);
      const page = await broker.operations.list({ status: "queued" });
      assert.deepEqual(page.records.map((r) => r.uuid).sort(), [named.uuid, plain.uuid].sort());
    }));

  test(`${label} ends a task not claimed by its deadline as cancel with TASK_EXPIRED, never handing it out`, () =>
    withBroker(async (broker) => {
      const late = newTask({ expiresInMs: 50 });
      const fresh = newTask({ expiresInMs: 600_000 });
      await broker.add(late);
      await broker.add(fresh);
      await passTime(broker, 100);
      const claim = await broker.exchange(exchangeRequest({ want: 10 }));
      assert.deepEqual(uuidsOf(claim), [fresh.uuid]);
      const record = await mustGet(broker, late.uuid);
      assert.equal(record.status, "cancel");
      assert.equal(record.cancelReason, "expired");
      assert.equal(record.error?.type, "TaskExpiredError");
      assert.equal(record.error?.code, "TASK_EXPIRED");
      assert.equal(record.deliveries, 0, "it never ran");
    }));

  test(`${label} stores a task's deadline as its expiresAt, expiresInMs after it is stored`, () =>
    withBroker(async (broker) => {
      const task = newTask({ expiresInMs: 90_000, queue: "q" });
      await broker.add(task);
      const record = await mustGet(broker, task.uuid);
      const after = (record.expiresAt?.getTime() ?? 0) - record.createdAt.getTime();
      assert.ok(Math.abs(after - 90_000) <= 5, `expiresAt is ${after} ms after createdAt`);
      assert.equal(record.queue, "q");
    }));

  /** A settlement of success for a claimed task's first delivery. */
  function done(uuid: string): Settlement {
    return { uuid, deliveries: 1, status: "success", returning: "null" };
  }

  test(`${label} runs at most the limit of a concurrency slot at once across workers, the others waiting`, () =>
    withBroker(async (broker) => {
      const limited = [1, 2, 3].map(() => newTask({ concurrency: { slot: "s", limit: 2 } }));
      for (const task of limited) await broker.add(task);
      const a = await broker.exchange(exchangeRequest({ workerId: "worker-a", want: 10 }));
      const b = await broker.exchange(exchangeRequest({ workerId: "worker-b", want: 10 }));
      assert.deepEqual(uuidsOf(a), [limited[0].uuid, limited[1].uuid]);
      assert.deepEqual(uuidsOf(b), [], "the third waits while two run");
      const waiting = await mustGet(broker, limited[2].uuid);
      assert.equal(waiting.status, "new", "a waiting task is neither failed nor retried");
      assert.equal(waiting.deliveries, 0);
      if (broker.operations) {
        const page = await broker.operations.list({ status: "queued" });
        assert.deepEqual(page.records.map((r) => r.uuid), [limited[2].uuid], "listed as queued");
        assert.equal((await broker.operations.counts()).byStatus.queued, 1);
      }
    }));

  test(`${label} hands a task waiting for its concurrency slot out when a running one settles`, () =>
    withBroker(async (broker) => {
      const first = newTask({ concurrency: { slot: "s", limit: 1 } });
      const second = newTask({ concurrency: { slot: "s", limit: 1 } });
      await broker.add(first);
      await broker.add(second);
      assert.deepEqual(uuidsOf(await broker.exchange(exchangeRequest({ want: 10 }))), [
        first.uuid,
      ]);
      const next = await broker.exchange(
        exchangeRequest({ workerId: "worker-b", want: 10, settlements: [] }),
      );
      assert.deepEqual(uuidsOf(next), []);
      const after = await broker.exchange(
        exchangeRequest({ want: 10, settlements: [done(first.uuid)] }),
      );
      assert.deepEqual(uuidsOf(after), [second.uuid]);
    }));

  test(`${label} does not let a task waiting for its concurrency slot block other tasks behind it`, () =>
    withBroker(async (broker) => {
      const running = newTask({ concurrency: { slot: "s", limit: 1 } });
      const waiting = newTask({ concurrency: { slot: "s", limit: 1 } });
      const plain = newTask();
      const otherKey = newTask({ concurrency: { slot: "t", limit: 1 } });
      await broker.add(running);
      await broker.add(waiting);
      await broker.add(plain);
      await broker.add(otherKey);
      const claim = await broker.exchange(exchangeRequest({ want: 10 }));
      assert.deepEqual(uuidsOf(claim), [running.uuid, plain.uuid, otherKey.uuid]);
    }));

  test(`${label} frees the concurrency slot of a task whose lease expired (a crashed worker)`, () =>
    withBroker(async (broker) => {
      const crashed = newTask({ concurrency: { slot: "s", limit: 1 } });
      const waiting = newTask({ concurrency: { slot: "s", limit: 1 } });
      await broker.add(crashed);
      await broker.add(waiting);
      const first = await broker.exchange(exchangeRequest({ want: 10, leaseMs: 50 }));
      assert.deepEqual(uuidsOf(first), [crashed.uuid]);
      await passTime(broker, 100);
      const next = await broker.exchange(exchangeRequest({ workerId: "worker-b", want: 10 }));
      assert.equal(next.recovered, 1);
      assert.deepEqual(uuidsOf(next), [waiting.uuid]);
      // The recovered task waits in turn (in the quarantine, then for the slot), never beside it.
      const idle = await broker.exchange(
        exchangeRequest({ workerId: "worker-c", want: 1, idle: true }),
      );
      assert.deepEqual(uuidsOf(idle), []);
      const last = await broker.exchange(exchangeRequest({
        workerId: "worker-b",
        want: 10,
        settlements: [done(waiting.uuid)],
      }));
      assert.deepEqual(uuidsOf(last), [crashed.uuid]);
    }));

  test(`${label} skips a cancelled task waiting for its concurrency slot and hands out the next`, () =>
    withBroker(async (broker) => {
      const tasks = [1, 2, 3].map(() => newTask({ concurrency: { slot: "s", limit: 1 } }));
      for (const task of tasks) await broker.add(task);
      await broker.exchange(exchangeRequest({ want: 10 }));
      assert.equal(await broker.cancel(tasks[1].uuid, "not needed", 60_000), "cancelled");
      const after = await broker.exchange(
        exchangeRequest({ want: 10, settlements: [done(tasks[0].uuid)] }),
      );
      assert.deepEqual(uuidsOf(after), [tasks[2].uuid]);
      assert.equal((await mustGet(broker, tasks[1].uuid)).status, "cancel");
    }));

  /** The tests of the `rateLimit` option: registered only where the backend implements it. */
  const rateTest: (name: string, fn: () => Promise<void>) => void = options.rateLimits === false
    ? () => {}
    : (name, fn) => void test(name, fn);

  if (options.rateLimits === false) {
    test(`${label} refuses a rate-limited task with a TypeError naming the option, storing nothing`, () =>
      withBroker(async (broker) => {
        const task = rated("r", 1, 1_000);
        await assert.rejects(() => broker.add(task), (error: unknown) => {
          assert.ok(error instanceof TypeError);
          assert.match(error.message, /rateLimit/);
          return true;
        });
        assert.equal(await broker.get(task.uuid), undefined);
      }));
  }

  /** A task of rate-limit slot `slot`: at most `limit` starts per `durationMs`. */
  function rated(slot: string, limit: number, durationMs: number) {
    return newTask({ rateLimit: { slot, limit, durationMs } });
  }

  rateTest(
    `${label} starts at most the limit of a rate-limited slot per window across workers, the others waiting`,
    () =>
      withBroker(async (broker) => {
        const tasks = [1, 2, 3, 4].map(() => rated("r", 2, 600_000));
        for (const task of tasks) await broker.add(task);
        const a = await broker.exchange(exchangeRequest({ workerId: "worker-a", want: 10 }));
        assert.deepEqual(uuidsOf(a), [tasks[0].uuid, tasks[1].uuid]);
        // Settling frees no room: the limit counts starts, not running tasks.
        const b = await broker.exchange(exchangeRequest({
          workerId: "worker-b",
          want: 10,
          settlements: [],
        }));
        assert.deepEqual(uuidsOf(b), []);
        const c = await broker.exchange(exchangeRequest({
          workerId: "worker-a",
          want: 10,
          settlements: [done(tasks[0].uuid), done(tasks[1].uuid)],
        }));
        assert.deepEqual(uuidsOf(c), [], "the window is still full after they ended");
        const waiting = await mustGet(broker, tasks[2].uuid);
        assert.equal(waiting.status, "new", "a limited task is neither failed nor retried");
        assert.equal(waiting.deliveries, 0, "it used no delivery");
        assert.equal(waiting.attempt, 1);
        if (broker.operations) {
          const page = await broker.operations.list({ status: "queued" });
          const listed = page.records.map((r) => r.uuid).sort();
          assert.deepEqual(listed, [tasks[2].uuid, tasks[3].uuid].sort(), "listed as queued");
        }
      }),
  );

  rateTest(
    `${label} hands a rate-limited task out when its window has room again, and says when`,
    () =>
      withBroker(async (broker) => {
        const first = rated("r", 1, 300);
        const second = rated("r", 1, 300);
        await broker.add(first);
        await broker.add(second);
        assert.deepEqual(uuidsOf(await broker.exchange(exchangeRequest({ want: 10 }))), [
          first.uuid,
        ]);
        const full = await broker.exchange(exchangeRequest({ workerId: "worker-b", want: 10 }));
        assert.deepEqual(uuidsOf(full), []);
        assert.ok(
          full.nextDueMs !== undefined && full.nextDueMs <= 300,
          `a waiting worker is told when to look again (${full.nextDueMs} ms)`,
        );
        const stats = await broker.queueStats?.();
        if (stats) assert.equal(stats.scheduled, 0, "a parked task is not counted as scheduled");
        await passTime(broker, 350);
        const later = await broker.exchange(exchangeRequest({ workerId: "worker-b", want: 10 }));
        assert.deepEqual(uuidsOf(later), [second.uuid]);
        const starts = [first, second].map(async (t) => (await mustGet(broker, t.uuid)).startedAt);
        const [a, b] = await Promise.all(starts);
        assert.ok(
          a && b && b.getTime() - a.getTime() >= 299,
          "started a window apart (server time)",
        );
      }),
  );

  rateTest(
    `${label} does not let a rate-limited task block other tasks behind it`,
    () =>
      withBroker(async (broker) => {
        const first = rated("r", 1, 600_000);
        const limited = rated("r", 1, 600_000);
        const plain = newTask();
        const otherSlot = rated("s", 1, 600_000);
        for (const task of [first, limited, plain, otherSlot]) await broker.add(task);
        const claim = await broker.exchange(exchangeRequest({ want: 10 }));
        assert.deepEqual(uuidsOf(claim), [first.uuid, plain.uuid, otherSlot.uuid]);
        const later = newTask();
        await broker.add(later);
        const next = await broker.exchange(exchangeRequest({ want: 10 }));
        assert.deepEqual(uuidsOf(next), [later.uuid]);
      }),
  );

  rateTest(
    `${label} counts the rate limits of different keys independently`,
    () =>
      withBroker(async (broker) => {
        const a = [rated("send:a", 1, 600_000), rated("send:a", 1, 600_000)];
        const b = [rated("send:b", 1, 600_000), rated("send:b", 1, 600_000)];
        for (const task of [a[0], a[1], b[0], b[1]]) await broker.add(task);
        const claim = await broker.exchange(exchangeRequest({ want: 10 }));
        assert.deepEqual(uuidsOf(claim), [a[0].uuid, b[0].uuid]);
      }),
  );

  rateTest(
    `${label} never starts more than a rate limit per window across three workers, by the records' start times`,
    () =>
      withBroker(async (broker) => {
        const limit = 3;
        const durationMs = 250;
        const tasks = Array.from({ length: 10 }, () => rated("r", limit, durationMs));
        const plain = Array.from({ length: 5 }, () => newTask());
        for (const task of [...tasks, ...plain]) await broker.add(task);
        const workers = ["worker-a", "worker-b", "worker-c"];
        const owed = new Map<string, Settlement[]>(workers.map((w) => [w, []]));
        const claimed = new Set<string>();
        for (let round = 0; round < 200 && claimed.size < tasks.length + plain.length; round++) {
          let nextDue: number | undefined;
          for (const workerId of workers) {
            const result = await broker.exchange(
              exchangeRequest({ workerId, want: 2, settlements: owed.get(workerId) }),
            );
            owed.set(workerId, result.claimed.map((task) => done(task.uuid)));
            for (const uuid of uuidsOf(result)) claimed.add(uuid);
            if (result.nextDueMs !== undefined) nextDue = result.nextDueMs;
          }
          if (claimed.size < tasks.length + plain.length) await passTime(broker, nextDue ?? 20);
        }
        assert.equal(claimed.size, tasks.length + plain.length, "every task was handed out");
        const starts: number[] = [];
        for (const task of tasks) {
          const record = await mustGet(broker, task.uuid);
          assert.equal(record.deliveries, 1, "each limited task started once");
          starts.push(record.startedAt?.getTime() ?? 0);
        }
        starts.sort((x, y) => x - y);
        for (let i = 0; i + limit < starts.length; i++) {
          // Any limit + 1 consecutive starts span a window at least (1 ms: rounding of the stamp).
          assert.ok(
            starts[i + limit] - starts[i] >= durationMs - 1,
            `starts ${i}..${i + limit} within ${starts[i + limit] - starts[i]} ms`,
          );
        }
      }),
  );

  test(`${label} gives a task that hit a remote rate limit back for later without using an attempt`, () =>
    withBroker(async (broker) => {
      const task = newTask();
      await broker.add(task);
      await broker.exchange(exchangeRequest({ want: 1 }));
      const deferred = await broker.exchange(exchangeRequest({
        want: 1,
        settlements: [{ uuid: task.uuid, deliveries: 1, status: "release", delayMs: 300 }],
      }));
      assert.deepEqual(uuidsOf(deferred), [], "not claimable before its delay");
      assert.ok(deferred.nextDueMs !== undefined && deferred.nextDueMs <= 300);
      const waiting = await mustGet(broker, task.uuid);
      assert.equal(waiting.status, "new");
      assert.equal(waiting.attempt, 1, "no attempt used");
      assert.equal(waiting.retryChildUuid, undefined);
      assert.ok(waiting.runAt !== undefined, "listed as scheduled, with its run_at");
      assert.deepEqual(waiting.pastDeliveries?.map((d) => d.end), ["released"]);
      if (broker.operations) {
        const page = await broker.operations.list({ status: "scheduled" });
        assert.deepEqual(page.records.map((r) => r.uuid), [task.uuid]);
      }
      await passTime(broker, 350);
      const again = await broker.exchange(exchangeRequest({ want: 1 }));
      assert.deepEqual(uuidsOf(again), [task.uuid]);
      assert.equal(again.claimed[0].attempt ?? 1, 1);
      assert.equal(again.claimed[0].deliveries, 2);
    }));

  test(`${label} does not count a remote rate limit's deferrals toward maxDeliveries`, () =>
    withBroker(async (broker) => {
      const task = newTask();
      await broker.add(task);
      await broker.exchange(exchangeRequest({ want: 1 }));
      await broker.exchange(exchangeRequest({
        settlements: [{ uuid: task.uuid, deliveries: 1, status: "release", delayMs: 0 }],
      }));
      await passTime(broker, 10);
      const claim = await broker.exchange(exchangeRequest({ want: 1, leaseMs: 50 }));
      assert.deepEqual(uuidsOf(claim), [task.uuid]);
      await passTime(broker, 100);
      // Delivered twice, once deferred: it counts as one delivery, under maxDeliveries 2.
      const next = await broker.exchange(
        exchangeRequest({ workerId: "worker-b", want: 0, maxDeliveries: 2 }),
      );
      assert.equal(next.recovered, 1);
      assert.equal((await mustGet(broker, task.uuid)).status, "new", "quarantined, not failed");
    }));

  rateTest(
    `${label} does not count a start for a rate-limited task that its concurrency limit parked`,
    () =>
      withBroker(async (broker) => {
        const both = () =>
          newTask({
            concurrency: { slot: "c", limit: 1 },
            rateLimit: { slot: "r", limit: 2, durationMs: 600_000 },
          });
        const [a, b, c] = [both(), both(), both()];
        for (const task of [a, b, c]) await broker.add(task);
        assert.deepEqual(uuidsOf(await broker.exchange(exchangeRequest({ want: 10 }))), [a.uuid]);
        const second = await broker.exchange(
          exchangeRequest({ want: 10, settlements: [done(a.uuid)] }),
        );
        assert.deepEqual(uuidsOf(second), [b.uuid], "b waited for its slot, not for the window");
        const third = await broker.exchange(
          exchangeRequest({ want: 10, settlements: [done(b.uuid)] }),
        );
        assert.deepEqual(uuidsOf(third), [], "two starts in the window: c waits for it");
        assert.equal((await mustGet(broker, c.uuid)).status, "new");
      }),
  );
}

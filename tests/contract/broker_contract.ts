/**
 * The shared contract suite of the Broker, Storage and GlobalConfig ports. Every implementation
 * registers it once (see memory_broker_test.ts and redis_broker_test.ts) and must pass it
 * unchanged: the same behaviour, observed only through the public ports.
 *
 * Each test runs against a fresh app name, starts its broker and always flushes and stops it,
 * so Redis stays clean and the process can exit.
 *
 * Known bugs of an implementation are passed as `knownBugs`: their tests are registered as
 * `todo` (they still run on Node and show as failing there). Set `QTASKS_CONTRACT_STRICT=1` to
 * run them as ordinary tests on every runtime.
 *
 * @module
 */
import assert from "node:assert/strict";
import process from "node:process";
import { test } from "node:test";
import {
  createLogger,
  DeliveryLimitError,
  DuplicateTaskError,
  parseQueueConfig,
  type TaskRecord,
} from "../../mod.ts";
import type {
  Broker,
  ComponentContext,
  ExchangeRequest,
  ExchangeResult,
  GlobalConfig,
  NewTask,
  Settlement,
} from "../../src/ports/mod.ts";
import { newTaskUuid } from "../../src/model/task_uuid.ts";

/** Tests of the suite that an implementation may declare as a known bug. */
export type ContractCase =
  | "reservedExtraFields"
  | "duplicateUuid"
  | "perSettlementTtl"
  | "waitForProcess"
  | "stopWakesWaiters";

/** How an implementation plugs into the suite. */
export interface BrokerContractOptions {
  /**
   * Makes the uuids of the tasks in the tests of claim order (priority and FIFO, want, the
   * quarantine's order, release, bulk order, getAll's order). A partitioned Redis app promises
   * that order within one partition only, so it gives uuids of one partition. Default
   * `crypto.randomUUID()`.
   */
  orderedUuid?: () => string;
  /**
   * Deletes the record of `uuid` and leaves its queue entry (a poison entry). Called right after
   * that task was added, while it is the app's only record. Without it, the poison-entry test is
   * skipped.
   */
  corrupt?: (broker: Broker, uuid: string) => Promise<void>;
  /**
   * Moves the broker's clock forward by `ms`. Without it, tests that need time to pass (lease and
   * record expiry) wait for the wall clock, bounded by a deadline.
   */
  advanceClock?: (broker: Broker, ms: number) => void | Promise<void>;
  /**
   * Whether two instances made with the same app name share their state (true for networked
   * backends). Then the running status is also checked from a second, never-started instance.
   */
  sharedState?: boolean;
  /** Tests that fail because of a known bug of this implementation, with the bug's description. */
  knownBugs?: Partial<Record<ContractCase, string>>;
}

/** A response counts as prompt when it comes well before the long timeouts the tests use. */
export const PROMPT_MS = 2_500;

const STRICT = process.env.QTASKS_CONTRACT_STRICT === "1";

/**
 * A fresh app name, so that tests never share keys.
 *
 * @returns `contract-` and 8 random hex digits.
 */
export function appName(): string {
  return `contract-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * What a component receives on start in these tests: the default config and a silent logger.
 *
 * @returns The context.
 */
export function componentContext(): ComponentContext {
  return { config: parseQueueConfig({}), logger: createLogger("silent") };
}

/**
 * A task to enqueue; every field can be overridden.
 *
 * @param overrides Fields to change.
 * @returns The task, with a fresh uuid unless one is given.
 */
export function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return {
    uuid: crypto.randomUUID(),
    taskName: "contract.add",
    priority: 0,
    args: "[1,2]",
    kwargs: "{}",
    extra: {},
    ...overrides,
  };
}

/**
 * An exchange request with the suite's defaults: worker `worker-a`, nothing to settle, claim
 * nothing, 30 s leases, 60 s result TTL, 5 deliveries, recover up to 100 leases.
 *
 * @param overrides Fields to change.
 * @returns The request.
 */
export function exchangeRequest(overrides: Partial<ExchangeRequest> = {}): ExchangeRequest {
  return {
    workerId: "worker-a",
    settlements: [],
    want: 0,
    leaseMs: 30_000,
    resultTtlMs: 60_000,
    maxDeliveries: 5,
    recoverLimit: 100,
    ...overrides,
  };
}

/**
 * Resolves after `ms` milliseconds. Only used to order events ("start waiting, then add"),
 * never to wait for an expiry.
 *
 * @param ms Milliseconds.
 * @returns A promise that resolves then.
 */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Reads a record that must exist.
 *
 * @param broker The broker.
 * @param uuid The task.
 * @returns The record.
 */
export async function mustGet(broker: Broker, uuid: string): Promise<TaskRecord> {
  const record = await broker.get(uuid);
  assert.ok(record, `task ${uuid} should have a record`);
  return record;
}

function uuidsOf(result: ExchangeResult): string[] {
  return result.claimed.map((task) => task.uuid);
}

function globalConfigOf(broker: Broker): GlobalConfig {
  const globalConfig = broker.storage.globalConfig;
  assert.ok(globalConfig, `the storage of ${broker.name} should have a GlobalConfig`);
  return globalConfig;
}

/**
 * Registers the contract tests of one Broker implementation (with its Storage and GlobalConfig)
 * with `node:test`.
 *
 * @param label The implementation, first word of every test name (`MemoryBroker`).
 * @param makeBroker Makes a new, unstarted broker for app `name`.
 * @param options Hooks and known bugs of the implementation.
 */
export function brokerContract(
  label: string,
  makeBroker: (name: string) => Broker | Promise<Broker>,
  options: BrokerContractOptions = {},
): void {
  /** A task of the order tests (see {@linkcode BrokerContractOptions.orderedUuid}). */
  const orderedTask = (overrides: Partial<NewTask> = {}): NewTask =>
    newTask({ uuid: options.orderedUuid?.() ?? crypto.randomUUID(), ...overrides });
  /** Registers a test that a known bug of this implementation may mark as todo. */
  function contractTest(
    name: string,
    fn: () => Promise<void>,
    flags: { bug?: ContractCase; skip?: string } = {},
  ): void {
    const bug = flags.bug === undefined ? undefined : options.knownBugs?.[flags.bug];
    if (flags.skip !== undefined) test(`${label} ${name}`, { skip: flags.skip }, fn);
    else if (bug !== undefined && !STRICT) {
      test(`${label} ${name}`, { todo: `known bug: ${bug}` }, fn);
    } else test(`${label} ${name}`, fn);
  }

  /** Runs `body` with a started broker of a fresh app; always flushes and stops it. */
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

  /**
   * Lets `ms` milliseconds pass on the broker's clock: advances an injected clock, or waits for
   * the wall clock by blocking in waitForTasks (bounded: it returns after at most `ms`).
   */
  async function passTime(broker: Broker, ms: number): Promise<void> {
    if (options.advanceClock) {
      await options.advanceClock(broker, ms);
      return;
    }
    const until = Date.now() + ms;
    const signal = new AbortController().signal;
    for (let left = ms; left > 0; left = until - Date.now()) {
      const started = Date.now();
      await broker.waitForTasks(left, signal);
      // A spurious wake-up (tasks queued): do not spin on it.
      if (Date.now() - started < 2) await delay(Math.min(left, 10));
    }
  }

  /**
   * Exchanges until `done` holds for the result: the awaited event happens once a lease or
   * record that expires in `expiresInMs` has expired. With an injected clock, advances it past the
   * expiry and exchanges once; otherwise retries (blocking briefly in between) until a deadline.
   */
  async function exchangeUntil(
    broker: Broker,
    request: ExchangeRequest,
    expiresInMs: number,
    done: (result: ExchangeResult) => boolean,
    what: string,
  ): Promise<ExchangeResult> {
    if (options.advanceClock) {
      await options.advanceClock(broker, expiresInMs + 1);
      const result = await broker.exchange(request);
      assert.ok(done(result), `${what}: ${JSON.stringify(result)}`);
      return result;
    }
    const deadline = Date.now() + expiresInMs + 5_000;
    const signal = new AbortController().signal;
    for (;;) {
      const result = await broker.exchange(request);
      if (done(result)) return result;
      assert.ok(Date.now() < deadline, `${what} before the deadline: ${JSON.stringify(result)}`);
      await broker.waitForTasks(20, signal);
    }
  }

  contractTest(
    'stores a new task as a record with status "new", and get() of an unknown uuid is undefined',
    () =>
      withBroker(async (broker) => {
        const before = Date.now();
        const task = newTask({
          taskName: "contract.store",
          priority: 7,
          args: '[1,"two",{"three":3},null]',
          kwargs: '{"flag":true}',
          extra: { source: "contract" },
        });
        await broker.add(task);
        const after = Date.now();
        const record = await mustGet(broker, task.uuid);
        assert.equal(record.uuid, task.uuid);
        assert.equal(record.status, "new");
        assert.equal(record.taskName, "contract.store");
        assert.equal(record.priority, 7);
        assert.deepEqual(record.args, [1, "two", { three: 3 }, null]);
        assert.deepEqual(record.kwargs, { flag: true });
        assert.deepEqual(record.extra, { source: "contract" });
        assert.equal(record.deliveries, 0);
        assert.equal(record.workerId, undefined);
        assert.equal(record.finishedAt, undefined);
        assert.equal(record.returning, undefined);
        assert.ok(record.createdAt instanceof Date);
        const created = record.createdAt.getTime();
        assert.ok(
          created >= before - 1_000 && created <= after + 1_000,
          `createdAt ${record.createdAt.toISOString()} should be the enqueue time`,
        );
        // The Storage reads the same record as the Broker.
        assert.deepEqual(await broker.storage.get(task.uuid), record);
        assert.equal(await broker.get(crypto.randomUUID()), undefined);
        assert.equal(await broker.storage.get(crypto.randomUUID()), undefined);
      }),
  );

  contractTest(
    "claims the highest-priority task first, FIFO within one priority",
    () =>
      withBroker(async (broker) => {
        const plan: Array<[string, number]> = [
          ["p5-first", 5],
          ["p1-first", 1],
          ["p5-second", 5],
          ["pminus2", -2],
          ["p1-second", 1],
          ["p0", 0],
          ["p1-third", 1],
        ];
        const uuidByLabel = new Map<string, string>();
        for (const [name, priority] of plan) {
          const task = orderedTask({ taskName: name, priority, args: JSON.stringify([name]) });
          uuidByLabel.set(name, task.uuid);
          await broker.add(task);
        }
        const order: string[] = [];
        for (let i = 0; i < plan.length; i++) {
          const result = await broker.exchange(exchangeRequest({ want: 1 }));
          assert.equal(result.claimed.length, 1, `claim #${i + 1} should get one task`);
          const [task] = result.claimed;
          order.push(task.taskName);
          assert.equal(task.uuid, uuidByLabel.get(task.taskName));
          assert.equal(task.priority, plan.find(([name]) => name === task.taskName)?.[1]);
          assert.equal(task.args, JSON.stringify([task.taskName]));
          assert.equal(task.kwargs, "{}");
          assert.equal(task.deliveries, 1);
        }
        assert.deepEqual(order, [
          "pminus2",
          "p0",
          "p1-first",
          "p1-second",
          "p1-third",
          "p5-first",
          "p5-second",
        ]);
        const empty = await broker.exchange(exchangeRequest({ want: 1 }));
        assert.deepEqual(empty.claimed, []);
      }),
  );

  contractTest(
    "claims at most want tasks and marks them as running under the worker",
    () =>
      withBroker(async (broker) => {
        const tasks = Array.from({ length: 5 }, (_, i) => orderedTask({ args: `[${i}]` }));
        for (const task of tasks) await broker.add(task);

        const none = await broker.exchange(exchangeRequest({ workerId: "worker-a", want: 0 }));
        assert.deepEqual(none, {
          claimed: [],
          rejected: [],
          recovered: 0,
          dropped: [],
          quarantined: 0,
        });
        for (const task of tasks) assert.equal((await mustGet(broker, task.uuid)).status, "new");

        const first = await broker.exchange(exchangeRequest({ workerId: "worker-a", want: 3 }));
        assert.deepEqual(uuidsOf(first), tasks.slice(0, 3).map((task) => task.uuid));
        assert.deepEqual(first.rejected, []);
        assert.deepEqual(first.dropped, []);
        for (const claimed of first.claimed) {
          assert.equal(claimed.deliveries, 1);
          assert.equal(claimed.taskName, "contract.add");
          const record = await mustGet(broker, claimed.uuid);
          assert.equal(record.status, "process");
          assert.equal(record.workerId, "worker-a");
          assert.equal(record.deliveries, 1);
          assert.ok(record.startedAt instanceof Date, "a claimed task has startedAt");
          assert.equal(record.finishedAt, undefined);
        }
        for (const task of tasks.slice(3)) {
          const record = await mustGet(broker, task.uuid);
          assert.equal(record.status, "new");
          assert.equal(record.workerId, undefined);
        }

        const rest = await broker.exchange(exchangeRequest({ workerId: "worker-b", want: 10 }));
        assert.deepEqual(uuidsOf(rest), tasks.slice(3).map((task) => task.uuid));
        assert.equal((await mustGet(broker, tasks[4].uuid)).workerId, "worker-b");
        const empty = await broker.exchange(exchangeRequest({ workerId: "worker-b", want: 10 }));
        assert.deepEqual(empty.claimed, []);
      }),
  );

  contractTest(
    "stores the result, error or cancel reason of a settlement",
    () =>
      withBroker(async (broker) => {
        const ok = newTask();
        const failed = newTask();
        const failedNoCode = newTask();
        const cancelled = newTask();
        const next = newTask({ taskName: "contract.next" });
        for (const task of [ok, failed, failedNoCode, cancelled]) await broker.add(task);
        const claim = await broker.exchange(exchangeRequest({ want: 4 }));
        assert.equal(claim.claimed.length, 4);
        await broker.add(next);

        const stack = "RangeError: too big\n    at add (file:///tasks.ts:1:1)";
        const result = await broker.exchange(exchangeRequest({
          want: 1,
          settlements: [
            {
              uuid: ok.uuid,
              deliveries: 1,
              status: "success",
              returning: '{"sum":3,"list":[1,"a",null]}',
            },
            {
              uuid: failed.uuid,
              deliveries: 1,
              status: "error",
              error: { type: "RangeError", message: "too big", stack, code: "E_BIG" },
            },
            {
              uuid: failedNoCode.uuid,
              deliveries: 1,
              status: "error",
              error: { type: "TypeError", message: "bad", stack: "TypeError: bad" },
            },
            { uuid: cancelled.uuid, deliveries: 1, status: "cancel", reason: "user asked" },
          ],
        }));
        assert.deepEqual(result.rejected, []);
        // Settling and claiming happen in the same exchange.
        assert.deepEqual(uuidsOf(result), [next.uuid]);

        const success = await mustGet(broker, ok.uuid);
        assert.equal(success.status, "success");
        assert.deepEqual(success.returning, { sum: 3, list: [1, "a", null] });
        assert.equal(success.error, undefined);
        assert.equal(success.cancelReason, undefined);
        assert.ok(success.finishedAt instanceof Date, "a finished task has finishedAt");
        assert.ok(success.startedAt instanceof Date);
        assert.ok(success.finishedAt.getTime() >= success.startedAt.getTime());
        assert.ok(success.startedAt.getTime() >= success.createdAt.getTime());
        assert.equal(success.deliveries, 1);

        const error = await mustGet(broker, failed.uuid);
        assert.equal(error.status, "error");
        assert.deepEqual(error.error, {
          type: "RangeError",
          message: "too big",
          stack,
          code: "E_BIG",
        });
        assert.equal(error.returning, undefined);
        assert.ok(error.finishedAt instanceof Date);

        const errorNoCode = await mustGet(broker, failedNoCode.uuid);
        assert.equal(errorNoCode.status, "error");
        assert.deepEqual(errorNoCode.error, {
          type: "TypeError",
          message: "bad",
          stack: "TypeError: bad",
        });

        const cancel = await mustGet(broker, cancelled.uuid);
        assert.equal(cancel.status, "cancel");
        assert.equal(cancel.cancelReason, "user asked");
        assert.equal(cancel.error, undefined);
        assert.ok(cancel.finishedAt instanceof Date);
      }),
  );

  contractTest(
    "rejects a settlement from another worker or with a stale delivery token",
    () =>
      withBroker(async (broker) => {
        const task = newTask();
        await broker.add(task);
        await broker.exchange(exchangeRequest({ workerId: "worker-a", want: 1 }));
        const unknown = crypto.randomUUID();

        const foreign = await broker.exchange(exchangeRequest({
          workerId: "worker-b",
          settlements: [
            { uuid: task.uuid, deliveries: 1, status: "success", returning: '"stolen"' },
            { uuid: unknown, deliveries: 1, status: "success", returning: "1" },
          ],
        }));
        assert.deepEqual(foreign.rejected, [task.uuid, unknown]);
        let record = await mustGet(broker, task.uuid);
        assert.equal(record.status, "process");
        assert.equal(record.workerId, "worker-a");
        assert.equal(record.returning, undefined);
        assert.equal(await broker.get(unknown), undefined);

        const future = await broker.exchange(exchangeRequest({
          settlements: [{ uuid: task.uuid, deliveries: 2, status: "cancel", reason: "no" }],
        }));
        assert.deepEqual(future.rejected, [task.uuid]);
        assert.equal((await mustGet(broker, task.uuid)).status, "process");

        // Release and claim again: delivery 2 holds the lease, delivery 1 is stale.
        await broker.exchange(exchangeRequest({
          settlements: [{ uuid: task.uuid, deliveries: 1, status: "release" }],
        }));
        const again = await broker.exchange(exchangeRequest({ want: 1 }));
        assert.deepEqual(again.claimed.map((t) => [t.uuid, t.deliveries]), [[task.uuid, 2]]);
        const stale = await broker.exchange(exchangeRequest({
          settlements: [{
            uuid: task.uuid,
            deliveries: 1,
            status: "error",
            error: { type: "Error", message: "stale" },
          }],
        }));
        assert.deepEqual(stale.rejected, [task.uuid]);
        record = await mustGet(broker, task.uuid);
        assert.equal(record.status, "process");
        assert.equal(record.deliveries, 2);
        assert.equal(record.error, undefined);

        const settled = await broker.exchange(exchangeRequest({
          settlements: [{ uuid: task.uuid, deliveries: 2, status: "success", returning: "42" }],
        }));
        assert.deepEqual(settled.rejected, []);
        // A second settlement of a finished task changes nothing; the same status from the same
        // delivery is a resend after a lost reply: already stored, so not reported as rejected.
        const twice = await broker.exchange(exchangeRequest({
          settlements: [{ uuid: task.uuid, deliveries: 2, status: "success", returning: "43" }],
        }));
        assert.deepEqual(twice.rejected, []);
        const other = await broker.exchange(exchangeRequest({
          settlements: [{ uuid: task.uuid, deliveries: 2, status: "cancel", reason: "late" }],
        }));
        assert.deepEqual(other.rejected, [task.uuid], "another status from that delivery");
        record = await mustGet(broker, task.uuid);
        assert.equal(record.status, "success");
        assert.equal(record.returning, 42);
      }),
  );

  contractTest(
    "requeues a task whose lease expired and delivers it again",
    () =>
      withBroker(async (broker) => {
        const leaseMs = 150;
        const task = newTask();
        await broker.add(task);
        const claimedAt = Date.now();
        const first = await broker.exchange(
          exchangeRequest({ workerId: "worker-a", want: 1, leaseMs }),
        );
        assert.deepEqual(first.claimed.map((t) => [t.uuid, t.deliveries]), [[task.uuid, 1]]);

        const early = await broker.exchange(
          exchangeRequest({ workerId: "worker-b", want: 1, leaseMs }),
        );
        if (options.advanceClock || Date.now() - claimedAt < leaseMs - 50) {
          // Still inside the lease: nothing to recover or claim.
          assert.deepEqual(early, {
            claimed: [],
            rejected: [],
            recovered: 0,
            dropped: [],
            quarantined: 0,
          });
        }

        const result = await exchangeUntil(
          broker,
          exchangeRequest({ workerId: "worker-b", want: 1, leaseMs, idle: true }),
          leaseMs,
          (r) => r.claimed.length > 0,
          "the expired task should be claimed again",
        );
        assert.equal(result.recovered, 1);
        assert.deepEqual(result.claimed.map((t) => [t.uuid, t.deliveries, t.isolated]), [[
          task.uuid,
          2,
          true,
        ]]);
        const record = await mustGet(broker, task.uuid);
        assert.equal(record.status, "process");
        assert.equal(record.workerId, "worker-b");
        assert.equal(record.deliveries, 2);
        // The first delivery is kept on the record's timeline, ended by its expired lease.
        assert.equal(record.pastDeliveries?.length, 1);
        const [past] = record.pastDeliveries!;
        assert.deepEqual([past.delivery, past.workerId, past.end], [1, "worker-a", "expired"]);
        assert.ok(past.startedAt !== undefined && past.startedAt <= past.endedAt);
        assert.ok(record.startedAt !== undefined && past.endedAt <= record.startedAt);

        // The first worker lost its lease: its late settlement is rejected.
        const late = await broker.exchange(exchangeRequest({
          workerId: "worker-a",
          settlements: [{ uuid: task.uuid, deliveries: 1, status: "success", returning: "1" }],
        }));
        assert.deepEqual(late.rejected, [task.uuid]);
        assert.equal((await mustGet(broker, task.uuid)).status, "process");
      }),
  );

  contractTest(
    "quarantines tasks whose worker died: each goes alone to an idle worker",
    () =>
      withBroker(async (broker) => {
        const leaseMs = 150;
        const dead = [orderedTask(), orderedTask(), orderedTask()];
        for (const task of dead) await broker.add(task);
        await broker.exchange(exchangeRequest({ workerId: "dead", want: 3, leaseMs }));

        // A busy worker recovers them but is not given any: it learns that they wait.
        const recovery = await exchangeUntil(
          broker,
          exchangeRequest({ workerId: "busy", want: 10, leaseMs }),
          leaseMs,
          (r) => r.recovered > 0,
          "the expired leases are recovered",
        );
        assert.equal(recovery.recovered, 3);
        assert.deepEqual(recovery.claimed, []);
        assert.equal(recovery.quarantined, 3);

        // It still gets tasks from the queue.
        const fresh = orderedTask();
        await broker.add(fresh);
        const busy = await broker.exchange(exchangeRequest({ workerId: "busy", want: 10 }));
        assert.deepEqual(busy.claimed.map((t) => [t.uuid, t.isolated]), [[fresh.uuid, false]]);
        assert.equal(busy.quarantined, 3);

        // Idle workers take them one at a time, in their original order, and nothing else.
        const taken: string[] = [];
        for (let i = 0; i < 3; i++) {
          const idle = await broker.exchange(
            exchangeRequest({ workerId: `idle-${i}`, want: 10, idle: true }),
          );
          assert.equal(idle.claimed.length, 1);
          assert.equal(idle.claimed[0].isolated, true);
          assert.equal(idle.claimed[0].deliveries, 2);
          assert.equal(idle.quarantined, 2 - i);
          taken.push(idle.claimed[0].uuid);
        }
        assert.deepEqual(taken, dead.map((t) => t.uuid));
      }),
  );

  contractTest(
    "recovers an expired lease of the calling worker too: a claim whose reply was lost is never held for ever",
    () =>
      withBroker(async (broker) => {
        const leaseMs = 150;
        const task = newTask();
        await broker.add(task);
        // worker-a never saw this reply (lost in an outage): it does not know it holds the task.
        await broker.exchange(exchangeRequest({ want: 1, leaseMs }));
        const again = await exchangeUntil(
          broker,
          exchangeRequest({ leaseMs }),
          leaseMs,
          (r) => r.recovered > 0,
          "worker-a's own expired lease should be recovered by its next exchange",
        );
        assert.equal(again.recovered, 1);
      }),
  );

  contractTest(
    "ends a task as DeliveryLimitError once its lease expired maxDeliveries times",
    () =>
      withBroker(async (broker) => {
        const leaseMs = 150;
        const maxDeliveries = 2;
        const task = newTask();
        await broker.add(task);
        const first = await broker.exchange(
          exchangeRequest({ workerId: "worker-a", want: 1, leaseMs, maxDeliveries }),
        );
        assert.equal(first.claimed[0]?.deliveries, 1);

        const second = await exchangeUntil(
          broker,
          exchangeRequest({ workerId: "worker-b", want: 1, leaseMs, maxDeliveries, idle: true }),
          leaseMs,
          (r) => r.claimed.length > 0,
          "below maxDeliveries, the expired task should be delivered again",
        );
        assert.deepEqual(second.claimed.map((t) => [t.uuid, t.deliveries]), [[task.uuid, 2]]);

        const third = await exchangeUntil(
          broker,
          exchangeRequest({ workerId: "worker-c", want: 1, leaseMs, maxDeliveries, idle: true }),
          leaseMs,
          (r) => r.recovered > 0,
          "the second expired lease should be recovered",
        );
        assert.equal(third.recovered, 1);
        assert.deepEqual(third.claimed, [], "a task past maxDeliveries is not delivered again");

        const record = await mustGet(broker, task.uuid);
        assert.equal(record.status, "error");
        assert.equal(record.deliveries, 2);
        assert.equal(record.error?.type, "DeliveryLimitError");
        assert.equal(record.error?.code, "DELIVERY_LIMIT");
        // The recorded error is the DeliveryLimitError class's, name, code and message alike.
        const expected = new DeliveryLimitError(2);
        assert.equal(record.error?.type, expected.name);
        assert.equal(record.error?.code, expected.code);
        assert.equal(record.error?.message, expected.message);
        assert.ok(record.finishedAt instanceof Date);

        const late = await broker.exchange(exchangeRequest({
          workerId: "worker-b",
          settlements: [{ uuid: task.uuid, deliveries: 2, status: "success", returning: "1" }],
        }));
        assert.deepEqual(late.rejected, [task.uuid]);
        assert.equal((await mustGet(broker, task.uuid)).status, "error");
      }),
  );

  contractTest(
    "extends leases the worker holds and reports the ones it lost",
    () =>
      withBroker(async (broker) => {
        const leaseMs = 150;
        const kept = orderedTask();
        const lapsing = orderedTask();
        await broker.add(kept);
        await broker.add(lapsing);
        const claim = await broker.exchange(
          exchangeRequest({ workerId: "worker-a", want: 2, leaseMs }),
        );
        assert.deepEqual(uuidsOf(claim), [kept.uuid, lapsing.uuid]);

        assert.deepEqual((await broker.extendLeases("worker-a", [], 60_000)).lost, []);
        assert.deepEqual(
          (await broker.extendLeases("worker-a", [{ uuid: kept.uuid, deliveries: 1 }], 60_000))
            .lost,
          [],
        );
        const unknown = crypto.randomUUID();
        assert.deepEqual(
          (await broker.extendLeases("worker-b", [{ uuid: kept.uuid, deliveries: 1 }], 1)).lost,
          [kept.uuid],
          "another worker does not hold the lease",
        );
        assert.deepEqual(
          (await broker.extendLeases(
            "worker-a",
            [
              { uuid: kept.uuid, deliveries: 2 },
              { uuid: unknown, deliveries: 1 },
              { uuid: lapsing.uuid, deliveries: 1 },
            ],
            1,
          )).lost,
          [kept.uuid, unknown],
          "a wrong delivery token or an unknown task is lost; a held lease is renewed",
        );

        // Past the original 150 ms lease: the extended lease holds, the other (renewed to 1 ms)
        // expired.
        await passTime(broker, leaseMs + 50);
        const after = await broker.exchange(
          exchangeRequest({ workerId: "worker-b", want: 10, leaseMs, idle: true }),
        );
        assert.equal(after.recovered, 1);
        assert.deepEqual(after.claimed.map((t) => [t.uuid, t.deliveries]), [[lapsing.uuid, 2]]);
        const record = await mustGet(broker, kept.uuid);
        assert.equal(record.status, "process");
        assert.equal(record.workerId, "worker-a");

        assert.deepEqual(
          (await broker.extendLeases(
            "worker-a",
            [{ uuid: kept.uuid, deliveries: 1 }, { uuid: lapsing.uuid, deliveries: 1 }],
            60_000,
          )).lost,
          [lapsing.uuid],
          "the recovered task's old lease is lost",
        );
        await broker.exchange(exchangeRequest({
          settlements: [{ uuid: kept.uuid, deliveries: 1, status: "success", returning: "1" }],
        }));
        assert.deepEqual(
          (await broker.extendLeases("worker-a", [{ uuid: kept.uuid, deliveries: 1 }], 60_000))
            .lost,
          [kept.uuid],
          "a settled task has no lease",
        );
      }),
  );

  contractTest("puts a released task back in the queue", () =>
    withBroker(async (broker) => {
      const released = orderedTask();
      const later = orderedTask();
      await broker.add(released);
      await broker.add(later);
      const claim = await broker.exchange(exchangeRequest({ workerId: "worker-a", want: 1 }));
      assert.deepEqual(uuidsOf(claim), [released.uuid]);

      const release = await broker.exchange(exchangeRequest({
        workerId: "worker-a",
        settlements: [{ uuid: released.uuid, deliveries: 1, status: "release" }],
      }));
      assert.deepEqual(release.rejected, []);
      const record = await mustGet(broker, released.uuid);
      assert.equal(record.status, "new");
      assert.equal(record.workerId, undefined);
      assert.equal(record.finishedAt, undefined);
      assert.equal(record.returning, undefined);

      assert.deepEqual(
        record.pastDeliveries?.map((d) => [d.delivery, d.workerId, d.end]),
        [[1, "worker-a", "released"]],
        "the released delivery is on the record's timeline",
      );

      // Back in its place in the queue, ahead of the task enqueued after it.
      const again = await broker.exchange(exchangeRequest({ workerId: "worker-b", want: 1 }));
      assert.deepEqual(again.claimed.map((t) => [t.uuid, t.deliveries]), [[released.uuid, 2]]);
      const reclaimed = await mustGet(broker, released.uuid);
      assert.equal(reclaimed.workerId, "worker-b");
      assert.equal(reclaimed.pastDeliveries?.length, 1, "a claim adds no past delivery");
      const rest = await broker.exchange(exchangeRequest({ workerId: "worker-b", want: 10 }));
      assert.deepEqual(uuidsOf(rest), [later.uuid]);
    }));

  contractTest(
    "adds tasks enqueued in the same turn independently: a duplicate fails alone",
    () =>
      withBroker(async (broker) => {
        const existing = orderedTask();
        await broker.add(existing);
        const fresh = [orderedTask(), orderedTask(), orderedTask()];
        const outcomes = await Promise.allSettled([
          broker.add(fresh[0]),
          broker.add({ ...existing, args: '["again"]' }),
          broker.add(fresh[1]),
          broker.add(fresh[2]),
        ]);
        assert.deepEqual(outcomes.map((o) => o.status), [
          "fulfilled",
          "rejected",
          "fulfilled",
          "fulfilled",
        ]);
        const failure = outcomes[1] as PromiseRejectedResult;
        assert.ok(failure.reason instanceof DuplicateTaskError);
        assert.deepEqual(
          (await mustGet(broker, existing.uuid)).args,
          [1, 2],
          "the first one is kept",
        );
        const claim = await broker.exchange(exchangeRequest({ want: 10 }));
        assert.deepEqual(uuidsOf(claim), [existing.uuid, ...fresh.map((t) => t.uuid)]);
      }),
  );

  contractTest(
    "refuses a bulk batch or flow that names one uuid twice, in or out of order, and stores none of it",
    () =>
      withBroker(async (broker) => {
        const [a, b, c] = [newTaskUuid(), newTaskUuid(), newTaskUuid()];
        const batches: Array<[string[], string]> = [[[a, b, b, c], b], [[c, a, b, a], a], [
          [a, a],
          a,
        ]];
        for (const [uuids, repeated] of batches) {
          const tasks = uuids.map((uuid) => newTask({ uuid }));
          await assert.rejects(
            broker.addBulk(tasks),
            (error: unknown) => error instanceof DuplicateTaskError && error.uuid === repeated,
          );
          for (const uuid of new Set(uuids)) {
            assert.equal(await broker.get(uuid), undefined, `${uuids.join(" ")}: nothing stored`);
          }
        }
        // A flow whose task repeats its group's uuid, or one of its tasks.
        const link = (index: number) =>
          JSON.stringify({ group: { uuid: a, index, size: 2 }, next: [] });
        for (const second of [a, b]) {
          await assert.rejects(
            broker.addFlow({
              records: [{ uuid: a, kind: "group", steps: [b, second] }],
              tasks: [
                newTask({ uuid: b, flow: link(0) }),
                newTask({ uuid: second, flow: link(1) }),
              ],
            }),
            (error: unknown) => error instanceof DuplicateTaskError && error.uuid === second,
          );
          assert.equal(await broker.get(a), undefined, "nothing of a refused flow is stored");
          assert.equal(await broker.get(b), undefined);
        }
        await broker.addBulk([a, b, c].map((uuid) => newTask({ uuid })));
        assert.equal((await mustGet(broker, c)).status, "new");
      }),
  );

  contractTest(
    "adds tasks in bulk in priority and FIFO order, all or none",
    () =>
      withBroker(async (broker) => {
        const first = orderedTask({ priority: 1, extra: { batch: "a" } });
        const urgent = orderedTask({ priority: -1 });
        const second = orderedTask({ priority: 1 });
        await broker.addBulk([first, urgent, second]);
        const record = await mustGet(broker, first.uuid);
        assert.equal(record.status, "new");
        assert.deepEqual(record.extra, { batch: "a" });
        const claim = await broker.exchange(exchangeRequest({ want: 10 }));
        assert.deepEqual(uuidsOf(claim), [urgent.uuid, first.uuid, second.uuid]);

        const fresh = orderedTask();
        await assert.rejects(broker.addBulk([fresh, first]), DuplicateTaskError);
        assert.equal(
          await broker.get(fresh.uuid),
          undefined,
          "nothing of a refused batch is stored",
        );
        await broker.addBulk([]);
      }),
  );

  contractTest(
    "carries a task's headers to its claim, its retry's record and the next step of its chain",
    () =>
      withBroker(async (broker) => {
        const headers = {
          traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
          tracestate: "vendor=1",
        };
        const chain = crypto.randomUUID();
        const second = {
          uuid: crypto.randomUUID(),
          name: "contract.next",
          priority: 0,
          args: "[]",
        };
        const first = newTask({ headers, flow: JSON.stringify({ chain, next: [second] }) });
        const plain = newTask();
        await broker.addFlow({
          records: [{ uuid: chain, kind: "chain", steps: [first.uuid, second.uuid] }],
          tasks: [first],
        });
        await broker.add(plain);
        assert.deepEqual((await mustGet(broker, first.uuid)).headers, headers);
        assert.equal((await mustGet(broker, plain.uuid)).headers, undefined);
        const claim = await broker.exchange(exchangeRequest({ want: 10 }));
        const byUuid = new Map(claim.claimed.map((task) => [task.uuid, task]));
        assert.deepEqual(byUuid.get(first.uuid)?.headers, headers);
        assert.equal(byUuid.get(plain.uuid)?.headers, undefined, "no headers, none claimed");
        const waited = byUuid.get(plain.uuid)?.waitedMs;
        assert.ok(typeof waited === "number" && waited >= 0 && waited < 60_000, `${waited}`);
        const child = crypto.randomUUID();
        const retried = await broker.exchange(exchangeRequest({
          settlements: [retrySettlement(first.uuid, 1, child, 0, 1)],
          want: 10,
        }));
        assert.deepEqual(uuidsOf(retried), [child]);
        assert.deepEqual(retried.claimed[0].headers, headers, "the retry inherits them");
        const next = await broker.exchange(exchangeRequest({
          settlements: [{ uuid: child, deliveries: 1, status: "success", returning: "1" }],
          want: 10,
        }));
        assert.deepEqual(uuidsOf(next), [second.uuid]);
        assert.deepEqual(next.claimed[0].headers, headers, "the next step inherits them");
        assert.deepEqual((await mustGet(broker, second.uuid)).headers, headers);
      }),
  );

  contractTest(
    "addFlow stores a chain's record and queues only its first task; a settle queues the next with the result first",
    () =>
      withBroker(async (broker) => {
        const chain = crypto.randomUUID();
        const second = {
          uuid: crypto.randomUUID(),
          name: "contract.label",
          priority: 0,
          args: '["x"]',
        };
        const first = newTask({ flow: JSON.stringify({ chain, next: [second] }) });
        await broker.addFlow({
          records: [{
            uuid: chain,
            kind: "chain",
            steps: [first.uuid, second.uuid],
            current: first.uuid,
          }],
          tasks: [first],
        });
        const record = await mustGet(broker, chain);
        assert.equal(record.status, "process");
        assert.equal(record.taskName, "@chain");
        assert.deepEqual(record.flowSteps, [first.uuid, second.uuid]);
        assert.equal(await broker.get(second.uuid), undefined, "later steps wait for the first");
        const claim = await broker.exchange(exchangeRequest({ want: 10 }));
        assert.deepEqual(uuidsOf(claim), [first.uuid], "the chain record is never claimed");
        assert.equal(claim.claimed[0].flow, true, "the claim says the task is part of a flow");
        const next = await broker.exchange(exchangeRequest({
          settlements: [{
            uuid: first.uuid,
            deliveries: 1,
            status: "success",
            returning: '{"n":3}',
          }],
          want: 10,
        }));
        assert.deepEqual(uuidsOf(next), [second.uuid]);
        assert.equal(next.claimed[0].args, '[{"n":3},"x"]');
        assert.equal((await mustGet(broker, second.uuid)).chainUuid, chain);
        assert.equal((await mustGet(broker, chain)).flowCurrent, second.uuid);
        await broker.exchange(exchangeRequest({
          settlements: [{
            uuid: second.uuid,
            deliveries: 1,
            status: "success",
            returning: '"3 x"',
          }],
        }));
        const done = await mustGet(broker, chain);
        assert.equal(done.status, "success");
        assert.equal(done.returning, "3 x");
      }),
  );

  contractTest(
    "addFlow stores nothing when a uuid exists, and a failed step ends its group and chain",
    () =>
      withBroker(async (broker) => {
        const existing = newTask();
        await broker.add(existing);
        const group = crypto.randomUUID();
        const link = (index: number) =>
          JSON.stringify({ group: { uuid: group, index, size: 2 }, next: [] });
        const a = newTask({ flow: link(0) });
        await assert.rejects(
          broker.addFlow({
            records: [{ uuid: group, kind: "group", steps: [a.uuid, existing.uuid] }],
            tasks: [a, { ...newTask({ flow: link(1) }), uuid: existing.uuid }],
          }),
          DuplicateTaskError,
        );
        assert.equal(await broker.get(group), undefined, "nothing of a refused flow is stored");
        assert.equal(await broker.get(a.uuid), undefined);
        const b = newTask({ flow: link(1) });
        await broker.addFlow({
          records: [{ uuid: group, kind: "group", steps: [a.uuid, b.uuid] }],
          tasks: [a, b],
        });
        await broker.exchange(exchangeRequest({ want: 10 }));
        await broker.exchange(exchangeRequest({
          settlements: [
            {
              uuid: b.uuid,
              deliveries: 1,
              status: "error",
              error: { type: "Error", message: "no" },
            },
            { uuid: a.uuid, deliveries: 1, status: "success", returning: "1" },
          ],
        }));
        const record = await mustGet(broker, group);
        assert.equal(record.status, "error");
        assert.equal(record.error?.message, "no");
        assert.equal(record.flowFailedUuid, b.uuid);
      }),
  );

  contractTest(
    "cancels a queued task at once: it is never claimed",
    () =>
      withBroker(async (broker) => {
        const cancelled = newTask();
        const kept = newTask();
        await broker.add(cancelled);
        await broker.add(kept);
        const waiting = broker.storage.waitForStatus(cancelled.uuid, {
          statuses: ["cancel"],
          timeoutMs: 5_000,
        });
        assert.equal(await broker.cancel(cancelled.uuid, "no longer needed", 60_000), "cancelled");
        const record = await waiting;
        assert.equal(record?.status, "cancel");
        assert.equal(record?.cancelReason, "no longer needed");
        assert.ok(record?.finishedAt, "finishedAt is set");
        const claim = await broker.exchange(exchangeRequest({ want: 10 }));
        assert.deepEqual(uuidsOf(claim), [kept.uuid], "the cancelled task is not claimed");
        assert.equal(await broker.cancel(cancelled.uuid, "again", 60_000), "finished");
        assert.equal(await broker.cancel(crypto.randomUUID(), "unknown", 60_000), "missing");
      }),
  );

  contractTest(
    "tells the worker of a running task that its cancel was requested",
    () =>
      withBroker(async (broker) => {
        const task = newTask();
        await broker.add(task);
        await broker.exchange(exchangeRequest({ workerId: "worker-a", want: 1 }));
        let hear: (value: [string, string]) => void = () => {};
        const heard = new Promise<[string, string]>((resolve) => hear = resolve);
        // Resolves once the listener is in place (for Redis: subscribed).
        const unwatch = await broker.watchCancellations((uuid, reason) => hear([uuid, reason]));
        assert.equal(await broker.cancel(task.uuid, "stop it", 60_000), "cancelling");
        assert.deepEqual(await heard, [task.uuid, "stop it"]);
        unwatch();
        assert.equal((await mustGet(broker, task.uuid)).status, "process", "still running");
        const renewal = await broker.extendLeases(
          "worker-a",
          [{ uuid: task.uuid, deliveries: 1 }],
          60_000,
        );
        assert.deepEqual(renewal, {
          lost: [],
          cancelled: [{ uuid: task.uuid, reason: "stop it" }],
        });
        await broker.exchange(exchangeRequest({
          settlements: [{ uuid: task.uuid, deliveries: 1, status: "cancel", reason: "stop it" }],
        }));
        const record = await mustGet(broker, task.uuid);
        assert.equal(record.status, "cancel");
        assert.equal(record.cancelReason, "stop it");
      }),
  );

  contractTest(
    "ends a running task whose cancel was requested as cancel when its lease expires",
    () =>
      withBroker(async (broker) => {
        const task = newTask();
        await broker.add(task);
        await broker.exchange(exchangeRequest({ workerId: "dead-worker", want: 1, leaseMs: 100 }));
        assert.equal(await broker.cancel(task.uuid, "worker gone", 60_000), "cancelling");
        await exchangeUntil(
          broker,
          exchangeRequest({ workerId: "worker-b", want: 10 }),
          100,
          (result) => result.recovered === 1,
          "the expired lease is recovered",
        );
        const record = await mustGet(broker, task.uuid);
        assert.equal(record.status, "cancel", "not run again");
        assert.equal(record.cancelReason, "worker gone");
        const claim = await broker.exchange(exchangeRequest({ workerId: "worker-b", want: 10 }));
        assert.deepEqual(uuidsOf(claim), []);
      }),
  );

  contractTest(
    "wakes waitForTasks on a new task, on abort, and after the timeout",
    () =>
      withBroker(async (broker) => {
        // Nothing arrives: resolves once the short timeout passes.
        let started = Date.now();
        await broker.waitForTasks(50, new AbortController().signal);
        let elapsed = Date.now() - started;
        assert.ok(elapsed >= 40, `resolved after ${elapsed} ms, before the 50 ms timeout`);
        assert.ok(elapsed < PROMPT_MS, `resolved after ${elapsed} ms`);

        // Abort: resolves well before the long timeout.
        const controller = new AbortController();
        started = Date.now();
        const aborted = broker.waitForTasks(5_000, controller.signal);
        await delay(50);
        controller.abort();
        await aborted;
        elapsed = Date.now() - started;
        assert.ok(elapsed < PROMPT_MS, `abort resolved after ${elapsed} ms`);

        // An already aborted signal resolves at once.
        started = Date.now();
        await broker.waitForTasks(5_000, controller.signal);
        elapsed = Date.now() - started;
        assert.ok(elapsed < PROMPT_MS, `an aborted signal resolved after ${elapsed} ms`);

        // A task added while waiting wakes the waiter.
        started = Date.now();
        const woken = broker.waitForTasks(5_000, new AbortController().signal);
        await delay(50);
        await broker.add(newTask());
        await woken;
        elapsed = Date.now() - started;
        assert.ok(elapsed < PROMPT_MS, `a new task woke the waiter after ${elapsed} ms`);
      }),
  );

  contractTest(
    "resolves waitForStatus when a settlement lands, and with the last record on timeout",
    () =>
      withBroker(async (broker) => {
        const final = ["success", "error", "cancel"] as const;
        const task = newTask();
        await broker.add(task);
        let started = Date.now();
        const waiting = broker.storage.waitForStatus(task.uuid, {
          statuses: final,
          timeoutMs: 5_000,
        });
        await delay(50);
        await broker.exchange(exchangeRequest({ want: 1 }));
        await broker.exchange(exchangeRequest({
          settlements: [{ uuid: task.uuid, deliveries: 1, status: "success", returning: '"done"' }],
        }));
        const record = await waiting;
        let elapsed = Date.now() - started;
        assert.ok(elapsed < PROMPT_MS, `resolved after ${elapsed} ms`);
        assert.equal(record?.uuid, task.uuid);
        assert.equal(record?.status, "success");
        assert.equal(record?.returning, "done");

        // Already final: resolves at once.
        started = Date.now();
        const already = await broker.storage.waitForStatus(task.uuid, {
          statuses: final,
          timeoutMs: 5_000,
        });
        assert.equal(already?.status, "success");
        assert.ok(Date.now() - started < PROMPT_MS);

        // Timeout: resolves with the last record seen.
        const queued = newTask();
        await broker.add(queued);
        started = Date.now();
        const last = await broker.storage.waitForStatus(queued.uuid, {
          statuses: final,
          timeoutMs: 50,
        });
        elapsed = Date.now() - started;
        assert.ok(elapsed >= 40, `resolved after ${elapsed} ms, before the 50 ms timeout`);
        assert.ok(elapsed < PROMPT_MS);
        assert.equal(last?.uuid, queued.uuid);
        assert.equal(last?.status, "new");

        // Unknown task: undefined after the timeout.
        assert.equal(
          await broker.storage.waitForStatus(crypto.randomUUID(), {
            statuses: final,
            timeoutMs: 30,
          }),
          undefined,
        );

        // Abort: resolves with the last record seen, well before the timeout.
        const controller = new AbortController();
        started = Date.now();
        const abortable = broker.storage.waitForStatus(queued.uuid, {
          statuses: final,
          timeoutMs: 5_000,
          signal: controller.signal,
        });
        await delay(50);
        controller.abort();
        assert.equal((await abortable)?.status, "new");
        assert.ok(Date.now() - started < PROMPT_MS);
      }),
  );

  contractTest(
    "drops a queue entry whose record is missing and claims the next task",
    () =>
      withBroker(async (broker) => {
        const corrupt = options.corrupt;
        assert.ok(corrupt);
        const poison = orderedTask({ priority: 0 });
        await broker.add(poison);
        await corrupt(broker, poison.uuid);
        assert.equal(await broker.get(poison.uuid), undefined, "the hook deletes the record");
        const next = orderedTask({ priority: 0 });
        const last = orderedTask({ priority: 0 });
        await broker.add(next);
        await broker.add(last);

        const result = await broker.exchange(exchangeRequest({ want: 1 }));
        assert.deepEqual(result.dropped, [poison.uuid]);
        assert.deepEqual(uuidsOf(result), [next.uuid]);
        const rest = await broker.exchange(exchangeRequest({ want: 10 }));
        assert.deepEqual(rest.dropped, []);
        assert.deepEqual(uuidsOf(rest), [last.uuid]);
        assert.equal(await broker.get(poison.uuid), undefined);
      }),
    options.corrupt ? {} : { skip: "no corrupt hook for this implementation" },
  );

  contractTest(
    "deletes finished records but never a queued or running one",
    () =>
      withBroker(async (broker) => {
        const [ok, failed, cancelled, running, queued] = Array.from({ length: 5 }, () => newTask());
        for (const task of [ok, failed, cancelled, running]) await broker.add(task);
        await broker.exchange(exchangeRequest({ want: 4 }));
        await broker.add(queued);
        await broker.exchange(exchangeRequest({
          settlements: [
            { uuid: ok.uuid, deliveries: 1, status: "success", returning: "1" },
            {
              uuid: failed.uuid,
              deliveries: 1,
              status: "error",
              error: { type: "Error", message: "x" },
            },
            { uuid: cancelled.uuid, deliveries: 1, status: "cancel", reason: "stop" },
          ],
        }));

        assert.equal(await broker.storage.deleteFinished(), 3);
        for (const task of [ok, failed, cancelled]) {
          assert.equal(await broker.get(task.uuid), undefined, "a finished record is deleted");
        }
        assert.equal((await mustGet(broker, running.uuid)).status, "process");
        assert.equal((await mustGet(broker, queued.uuid)).status, "new");
        assert.equal(await broker.storage.deleteFinished(), 0);

        // The survivors still work: the running one settles, the queued one is claimed.
        const result = await broker.exchange(exchangeRequest({
          want: 10,
          settlements: [{ uuid: running.uuid, deliveries: 1, status: "success", returning: "2" }],
        }));
        assert.deepEqual(result.rejected, []);
        assert.deepEqual(uuidsOf(result), [queued.uuid]);
        assert.equal(await broker.storage.deleteFinished(), 1);
        assert.equal(await broker.get(running.uuid), undefined);
        assert.equal((await mustGet(broker, queued.uuid)).status, "process");
      }),
  );

  contractTest(
    "flushAll empties the queue, the leases and the records",
    () =>
      withBroker(async (broker) => {
        const [queued, running, finished] = Array.from({ length: 3 }, () => newTask());
        await broker.add(finished);
        await broker.add(running);
        await broker.exchange(exchangeRequest({ want: 2, leaseMs: 100 }));
        await broker.exchange(exchangeRequest({
          settlements: [{ uuid: finished.uuid, deliveries: 1, status: "success", returning: "1" }],
        }));
        await broker.add(queued);

        await broker.flushAll();
        for (const task of [queued, running, finished]) {
          assert.equal(await broker.get(task.uuid), undefined, "every record is deleted");
        }
        assert.deepEqual(
          (await broker.extendLeases("worker-a", [{ uuid: running.uuid, deliveries: 1 }], 60_000))
            .lost,
          [running.uuid],
          "the lease is gone",
        );
        // Past the old lease: nothing is left to recover or claim.
        await passTime(broker, 150);
        const result = await broker.exchange(exchangeRequest({ want: 10 }));
        assert.deepEqual(result, {
          claimed: [],
          rejected: [],
          recovered: 0,
          dropped: [],
          quarantined: 0,
        });
        assert.equal(await broker.storage.deleteFinished(), 0);

        // The app keeps working after a flush.
        const fresh = newTask();
        await broker.add(fresh);
        const claim = await broker.exchange(exchangeRequest({ want: 10 }));
        assert.deepEqual(claim.claimed.map((t) => [t.uuid, t.deliveries]), [[fresh.uuid, 1]]);
      }),
  );

  contractTest(
    "round-trips GlobalConfig settings and reports whether the app is running",
    async () => {
      const name = appName();
      const broker = await makeBroker(name);
      let observer: Broker | undefined;
      let stopped = false;
      try {
        await broker.start(componentContext());
        const globalConfig = globalConfigOf(broker);
        assert.equal(globalConfig.name, name);
        await globalConfig.set("limits", "email", "100");
        await globalConfig.set("limits", "sms", "5");
        await globalConfig.set("limits", "email", "200");
        await globalConfig.set("features", "beta", "on");
        assert.equal(await globalConfig.get("limits", "email"), "200");
        assert.equal(await globalConfig.get("limits", "sms"), "5");
        assert.equal(await globalConfig.get("limits", "push"), undefined);
        assert.equal(await globalConfig.get("nowhere", "email"), undefined);
        assert.deepEqual(await globalConfig.getAll("limits"), { email: "200", sms: "5" });
        assert.deepEqual(await globalConfig.getAll("features"), { beta: "on" });
        assert.deepEqual(await globalConfig.getAll("nowhere"), {});

        assert.equal(await globalConfig.isRunning(), true, "running after start");
        if (options.sharedState) {
          // A second instance of the app, never started, sees the same settings and status.
          observer = await makeBroker(name);
          const seen = globalConfigOf(observer);
          assert.equal(await seen.get("limits", "email"), "200");
          assert.equal(await seen.isRunning(), true, "another instance sees the app running");
          stopped = true;
          await broker.stop();
          assert.equal(await seen.isRunning(), false, "not running after stop");
        } else {
          stopped = true;
          await broker.flushAll();
          await broker.stop();
          assert.equal(await globalConfig.isRunning(), false, "not running after stop");
        }
      } finally {
        if (observer) {
          try {
            await observer.flushAll();
          } finally {
            await observer.stop();
          }
        }
        if (!stopped) {
          try {
            await broker.flushAll();
          } finally {
            await broker.stop();
          }
        }
      }
    },
  );

  contractTest(
    "getAll reads every record of the app oldest first, at most limit of them",
    () =>
      withBroker(async (broker) => {
        assert.deepEqual(await broker.storage.getAll(), [], "no records yet");
        const tasks = Array.from({ length: 5 }, (_, i) => orderedTask({ args: `[${i}]` }));
        for (const task of tasks.slice(0, 3)) await broker.add(task);
        await broker.addBulk(tasks.slice(3));
        await broker.exchange(exchangeRequest({ want: 1 }));
        await broker.exchange(exchangeRequest({
          settlements: [{ uuid: tasks[0].uuid, deliveries: 1, status: "success", returning: "7" }],
        }));

        const all = await broker.storage.getAll();
        assert.deepEqual(all.map((record) => record.uuid), tasks.map((task) => task.uuid));
        assert.deepEqual(all.map((record) => record.status), [
          "success",
          "new",
          "new",
          "new",
          "new",
        ]);
        assert.equal(all[0].returning, 7);
        assert.deepEqual(all[0], await mustGet(broker, tasks[0].uuid));

        const some = await broker.storage.getAll({ limit: 2 });
        assert.equal(some.length, 2);
        const order = tasks.map((task) => task.uuid);
        const positions = some.map((record) => order.indexOf(record.uuid));
        assert.ok(positions.every((at) => at >= 0), "only records of this app");
        assert.ok(positions[0] < positions[1], "still oldest first");
        assert.deepEqual(await broker.storage.getAll({ limit: 0 }), []);
        await assert.rejects(broker.storage.getAll({ limit: -1 }), RangeError);
        await assert.rejects(broker.storage.getAll({ limit: 1.5 }), RangeError);

        await broker.flushAll();
        assert.deepEqual(await broker.storage.getAll(), [], "flushAll leaves no record");
      }),
  );

  contractTest(
    "getMatch reads the keys of a GlobalConfig group that match a Redis glob",
    () =>
      withBroker(async (broker) => {
        const globalConfig = globalConfigOf(broker);
        const keys = [
          "email",
          "email.daily",
          "sms",
          "ab",
          "ac",
          "ad",
          "a?",
          "a.b",
          "a+b",
          "x(1)|y",
          "[lit]",
          "back\\slash",
        ];
        for (const key of keys) await globalConfig.set("limits", key, `v-${key}`);
        await globalConfig.set("other", "email", "elsewhere");
        const match = async (pattern: string) =>
          Object.keys(await globalConfig.getMatch("limits", pattern)).sort();

        assert.deepEqual(await globalConfig.getMatch("limits", "email*"), {
          email: "v-email",
          "email.daily": "v-email.daily",
        });
        assert.deepEqual(await match("*"), [...keys].sort());
        assert.deepEqual(await match("?mail"), ["email"]);
        assert.deepEqual(await match("a[bc]"), ["ab", "ac"]);
        assert.deepEqual(await match("a[b-c]"), ["ab", "ac"]);
        assert.deepEqual(await match("a[c-b]"), ["ab", "ac"], "a range's ends in either order");
        assert.deepEqual(await match("a[^b]"), ["a?", "ac", "ad"]);
        assert.deepEqual(await match("a.b"), ["a.b"], "a dot is literal");
        assert.deepEqual(await match("a+b"), ["a+b"]);
        assert.deepEqual(await match("x(1)|y"), ["x(1)|y"]);
        assert.deepEqual(await match("a\\?"), ["a?"], "an escaped ? is literal");
        assert.deepEqual(await match("\\[lit\\]"), ["[lit]"]);
        assert.deepEqual(await match("[[]*"), ["[lit]"]);
        assert.deepEqual(await match("back\\\\slash"), ["back\\slash"]);
        assert.deepEqual(await match("*.*"), ["a.b", "email.daily"]);
        assert.deepEqual(await match("nothing*"), []);
        assert.deepEqual(await globalConfig.getMatch("nowhere", "*"), {});
      }),
  );

  contractTest(
    "keeps a task's own fields when extra uses a reserved field name",
    () =>
      withBroker(async (broker) => {
        const task = newTask({
          taskName: "contract.safe",
          priority: 3,
          args: "[1]",
          extra: {
            task_name: "contract.evil",
            status: "success",
            priority: "-9",
            args: "[666]",
            deliveries: "7",
            seq: "not-a-number",
            plugin: "kept",
          },
        });
        try {
          await broker.add(task);
        } catch {
          // Refusing such a task is fine too; storing a corrupted record is not.
          assert.equal(await broker.get(task.uuid), undefined);
          return;
        }
        const record = await mustGet(broker, task.uuid);
        assert.equal(record.taskName, "contract.safe");
        assert.equal(record.status, "new");
        assert.equal(record.priority, 3);
        assert.deepEqual(record.args, [1]);
        assert.equal(record.deliveries, 0);
        assert.equal(record.extra.plugin, "kept");

        const claim = await broker.exchange(exchangeRequest({ want: 1 }));
        assert.deepEqual(
          claim.claimed.map((t) => [t.uuid, t.taskName, t.args, t.priority, t.deliveries]),
          [[task.uuid, "contract.safe", "[1]", 3, 1]],
        );
        // Releasing requeues it by its own priority and sequence.
        const release = await broker.exchange(exchangeRequest({
          settlements: [{ uuid: task.uuid, deliveries: 1, status: "release" }],
        }));
        assert.deepEqual(release.rejected, []);
        const again = await broker.exchange(exchangeRequest({ want: 1 }));
        assert.deepEqual(again.claimed.map((t) => [t.uuid, t.deliveries]), [[task.uuid, 2]]);
      }),
    { bug: "reservedExtraFields" },
  );

  contractTest(
    "does not queue a uuid that exists already a second time",
    () =>
      withBroker(async (broker) => {
        const task = newTask({ args: '["first"]' });
        await broker.add(task);
        const claim = await broker.exchange(exchangeRequest({ want: 1 }));
        assert.equal(claim.claimed.length, 1);
        await assert.rejects(broker.add({ ...task, args: '["second"]' }), DuplicateTaskError);
        const record = await mustGet(broker, task.uuid);
        assert.equal(record.status, "process", "the running task is left alone");
        assert.deepEqual(record.args, ["first"]);
        const more = await broker.exchange(exchangeRequest({ workerId: "worker-b", want: 10 }));
        assert.deepEqual(more.claimed, [], "the task is not delivered a second time");
      }),
    { bug: "duplicateUuid" },
  );

  contractTest(
    "expires each finished record after the resultTtlMs of its own settlement",
    () =>
      withBroker(async (broker) => {
        const long = newTask();
        const short = newTask();
        await broker.add(long);
        await broker.add(short);
        await broker.exchange(exchangeRequest({ want: 2 }));
        await broker.exchange(exchangeRequest({
          resultTtlMs: 60_000,
          settlements: [{ uuid: long.uuid, deliveries: 1, status: "success", returning: "1" }],
        }));
        await broker.exchange(exchangeRequest({
          resultTtlMs: 200,
          settlements: [{ uuid: short.uuid, deliveries: 1, status: "success", returning: "2" }],
        }));
        assert.equal((await mustGet(broker, short.uuid)).status, "success");
        await passTime(broker, 300);
        assert.equal(await broker.get(short.uuid), undefined, "the 200 ms record expired");
        assert.equal((await mustGet(broker, long.uuid)).status, "success");
      }),
    { bug: "perSettlementTtl" },
  );

  contractTest(
    'wakes waitForStatus when a task is claimed (status "process")',
    () =>
      withBroker(async (broker) => {
        const task = newTask();
        await broker.add(task);
        const started = Date.now();
        const waiting = broker.storage.waitForStatus(task.uuid, {
          statuses: ["process"],
          timeoutMs: 3_000,
        });
        await delay(50);
        await broker.exchange(exchangeRequest({ want: 1 }));
        const record = await waiting;
        assert.equal(record?.status, "process");
        const elapsed = Date.now() - started;
        assert.ok(elapsed < PROMPT_MS, `resolved after ${elapsed} ms`);
      }),
    { bug: "waitForProcess" },
  );

  contractTest(
    "resolves a pending waitForTasks when the broker stops",
    async () => {
      const broker = await makeBroker(appName());
      let outcome: Promise<unknown> | undefined;
      try {
        await broker.start(componentContext());
        outcome = broker.waitForTasks(5_000, new AbortController().signal).then(
          () => "resolved",
          (error: unknown) => error,
        );
        await delay(50);
      } finally {
        try {
          await broker.flushAll();
        } finally {
          await broker.stop();
        }
      }
      const started = Date.now();
      const settled = await outcome;
      const elapsed = Date.now() - started;
      if (settled !== "resolved") {
        assert.fail(`waitForTasks rejected on stop: ${(settled as Error)?.message ?? settled}`);
      }
      assert.ok(elapsed < PROMPT_MS, `resolved ${elapsed} ms after stop`);
    },
    { bug: "stopWakesWaiters" },
  );

  // ── delayed tasks and retries ──────────────────────────────────────────────────────────────

  /** A delay long enough to check "not yet" with an injected clock, short on the wall clock. */
  const shortDelay = (ms: number) => options.advanceClock ? 60_000 : ms;

  contractTest(
    "stores a delayed task at once but claims it only once it is due",
    () =>
      withBroker(async (broker) => {
        const delayMs = shortDelay(300);
        const before = Date.now();
        const delayed = newTask({ delayMs, extra: { source: "later" } });
        await broker.add(delayed);
        const after = Date.now();
        const record = await mustGet(broker, delayed.uuid);
        assert.equal(record.status, "new");
        assert.deepEqual(record.extra, { source: "later" });
        assert.ok(record.runAt instanceof Date, "a delayed task's record has runAt");
        const runAt = record.runAt.getTime();
        assert.ok(
          runAt >= before + delayMs - 1_000 && runAt <= after + delayMs + 1_000,
          `runAt ${record.runAt.toISOString()} should be the enqueue time + ${delayMs} ms`,
        );

        const early = await broker.exchange(exchangeRequest({ want: 10 }));
        assert.deepEqual(early.claimed, [], "not claimed before it is due");
        assert.ok(
          early.nextDueMs !== undefined && early.nextDueMs > 0 && early.nextDueMs <= delayMs,
          `nextDueMs ${early.nextDueMs} should be within the delay`,
        );
        assert.equal((await mustGet(broker, delayed.uuid)).status, "new");

        const due = await exchangeUntil(
          broker,
          exchangeRequest({ want: 10 }),
          delayMs,
          (result) => result.claimed.length > 0,
          "the delayed task is claimed once due",
        );
        assert.deepEqual(uuidsOf(due), [delayed.uuid]);
        assert.equal(due.nextDueMs, undefined, "nothing else is scheduled");
        const claimed = await mustGet(broker, delayed.uuid);
        assert.equal(claimed.status, "process");
        assert.ok(
          claimed.startedAt && claimed.startedAt.getTime() >= runAt,
          "it did not start before runAt",
        );
      }),
  );

  contractTest(
    "claims due delayed tasks by priority, FIFO within a priority, among the queued ones",
    () =>
      withBroker(async (broker) => {
        const delayMs = shortDelay(100);
        const plan: Array<[string, number, number]> = [
          ["late-p5", 5, delayMs],
          ["late-p1-first", 1, delayMs],
          ["now-p3", 3, 0],
          ["late-p1-second", 1, delayMs],
          ["late-pminus2", -2, delayMs],
        ];
        for (const [name, priority, ms] of plan) {
          await broker.add(orderedTask({ taskName: name, priority, delayMs: ms || undefined }));
        }
        const early = await broker.exchange(exchangeRequest({ want: 1 }));
        assert.deepEqual(early.claimed.map((task) => task.taskName), ["now-p3"]);
        await passTime(broker, delayMs + 1);
        const order: string[] = [];
        for (let i = 0; i < 4; i++) {
          const result = await broker.exchange(exchangeRequest({ want: 1 }));
          order.push(...result.claimed.map((task) => task.taskName));
        }
        assert.deepEqual(order, ["late-pminus2", "late-p1-first", "late-p1-second", "late-p5"]);
      }),
  );

  contractTest(
    "wakes a waiting worker when a delayed task is due before every scheduled one",
    () =>
      withBroker(async (broker) => {
        const controller = new AbortController();
        try {
          let started = Date.now();
          let woken = broker.waitForTasks(60_000, controller.signal);
          await delay(50);
          await broker.add(newTask({ delayMs: 30_000 }));
          await woken;
          let elapsed = Date.now() - started;
          assert.ok(
            elapsed < PROMPT_MS,
            `the first delayed task woke the waiter after ${elapsed} ms`,
          );

          started = Date.now();
          woken = broker.waitForTasks(60_000, controller.signal);
          await delay(50);
          await broker.add(newTask({ delayMs: 10_000 }));
          await woken;
          elapsed = Date.now() - started;
          assert.ok(
            elapsed < PROMPT_MS,
            `an earlier delayed task woke the waiter after ${elapsed} ms`,
          );

          const result = await broker.exchange(exchangeRequest({ want: 10 }));
          assert.deepEqual(result.claimed, []);
          assert.ok(
            result.nextDueMs !== undefined && result.nextDueMs > 5_000 &&
              result.nextDueMs <= 10_000,
            `nextDueMs ${result.nextDueMs} should be the earlier task's`,
          );
        } finally {
          controller.abort();
        }
      }),
  );

  contractTest(
    "cancels a scheduled task at once: it is never claimed",
    () =>
      withBroker(async (broker) => {
        const delayMs = shortDelay(100);
        const scheduled = newTask({ delayMs });
        await broker.add(scheduled);
        assert.equal(await broker.cancel(scheduled.uuid, "not needed", 600_000), "cancelled");
        const record = await mustGet(broker, scheduled.uuid);
        assert.equal(record.status, "cancel");
        assert.equal(record.cancelReason, "not needed");
        const after = await broker.exchange(exchangeRequest({ want: 10 }));
        assert.equal(after.nextDueMs, undefined, "the schedule is empty");
        await passTime(broker, delayMs + 1);
        const claim = await broker.exchange(exchangeRequest({ want: 10 }));
        assert.deepEqual(claim.claimed, [], "the cancelled task is never claimed");
        assert.equal((await mustGet(broker, scheduled.uuid)).status, "cancel");
      }),
  );

  /** A retry settlement of the task `uuid` held by delivery `deliveries`. */
  function retrySettlement(
    uuid: string,
    deliveries: number,
    childUuid: string,
    delayMs: number,
    retriesLeft: number,
    message = "flaky",
  ): Settlement {
    return {
      uuid,
      deliveries,
      status: "retry",
      error: { type: "Error", message, stack: `Error: ${message}` },
      childUuid,
      delayMs,
      retriesLeft,
    };
  }

  contractTest(
    "settles a retry: the failed record links to a new attempt created in the same step",
    () =>
      withBroker(async (broker) => {
        const delayMs = shortDelay(200);
        const task = newTask({
          taskName: "contract.flaky",
          priority: 3,
          args: '["x",1]',
          kwargs: '{"k":true}',
          extra: { tenant: "acme" },
        });
        await broker.add(task);
        const [first] = (await broker.exchange(exchangeRequest({ want: 1 }))).claimed;
        assert.equal(first.attempt, undefined, "a first run has no attempt number");
        assert.equal(first.retriesLeft, undefined);

        // A worker that does not hold the lease cannot retry it: nothing is created.
        const stranger = crypto.randomUUID();
        const refused = await broker.exchange(exchangeRequest({
          workerId: "worker-b",
          settlements: [retrySettlement(task.uuid, 1, stranger, 0, 2)],
        }));
        assert.deepEqual(refused.rejected, [task.uuid]);
        assert.equal(await broker.get(stranger), undefined);

        const child = crypto.randomUUID();
        // Someone awaits the record: the settlement is announced to them too.
        const waiting = broker.storage.waitForStatus(task.uuid, {
          statuses: ["retry"],
          timeoutMs: 5_000,
        });
        await delay(20);
        const settled = await broker.exchange(exchangeRequest({
          want: 10,
          settlements: [retrySettlement(task.uuid, 1, child, delayMs, 2)],
        }));
        assert.deepEqual(settled.rejected, []);
        const heard = await waiting;
        assert.equal(heard?.status, "retry");
        assert.equal(heard?.retryChildUuid, child);
        assert.equal(heard?.retry, 2);
        assert.deepEqual(settled.claimed, [], "the retry is not due yet");
        assert.ok(
          settled.nextDueMs !== undefined && settled.nextDueMs <= delayMs,
          `nextDueMs ${settled.nextDueMs}`,
        );

        const parent = await mustGet(broker, task.uuid);
        assert.equal(parent.status, "retry");
        assert.deepEqual(parent.error, { type: "Error", message: "flaky", stack: "Error: flaky" });
        assert.equal(parent.retry, 2);
        assert.equal(parent.retryChildUuid, child);
        assert.equal(parent.retryParentUuid, undefined);
        assert.ok(parent.finishedAt instanceof Date);

        const next = await mustGet(broker, child);
        assert.equal(next.status, "new");
        assert.equal(next.taskName, "contract.flaky");
        assert.equal(next.priority, 3);
        assert.deepEqual(next.args, ["x", 1]);
        assert.deepEqual(next.kwargs, { k: true });
        assert.deepEqual(next.extra, { tenant: "acme" });
        assert.equal(next.retry, 1);
        assert.equal(next.retryParentUuid, task.uuid);
        assert.equal(next.retryChildUuid, undefined);
        assert.equal(next.attempt, 2);
        assert.equal(next.deliveries, 0);
        assert.equal(next.error, undefined);
        assert.equal(next.workerId, undefined);
        assert.ok(next.runAt instanceof Date, "the retry waits until its runAt");

        // Another worker (the first one may be gone) claims it once due.
        const due = await exchangeUntil(
          broker,
          exchangeRequest({ workerId: "worker-b", want: 1 }),
          delayMs,
          (result) => result.claimed.length > 0,
          "the retry is claimed once due",
        );
        assert.deepEqual(
          due.claimed.map((t) => [t.uuid, t.taskName, t.args, t.kwargs, t.priority, t.deliveries]),
          [[child, "contract.flaky", '["x",1]', '{"k":true}', 3, 1]],
        );
        assert.equal(due.claimed[0].attempt, 2);
        assert.equal(due.claimed[0].retriesLeft, 1);

        // A retry without delay is queued at once: the same exchange claims it.
        const grandchild = crypto.randomUUID();
        const again = await broker.exchange(exchangeRequest({
          workerId: "worker-b",
          want: 1,
          settlements: [retrySettlement(child, 1, grandchild, 0, 1, "still flaky")],
        }));
        assert.deepEqual(uuidsOf(again), [grandchild]);
        assert.equal(again.claimed[0].attempt, 3);
        assert.equal(again.claimed[0].retriesLeft, 0);
        const last = await broker.exchange(exchangeRequest({
          workerId: "worker-b",
          settlements: [{
            uuid: grandchild,
            deliveries: 1,
            status: "error",
            error: { type: "Error", message: "gave up" },
          }],
        }));
        assert.deepEqual(last.rejected, []);

        const chain = await Promise.all(
          [task.uuid, child, grandchild].map((u) => mustGet(broker, u)),
        );
        assert.deepEqual(
          chain.map((r) => [r.status, r.retry, r.attempt, r.retryParentUuid, r.retryChildUuid]),
          [
            ["retry", 2, 1, undefined, child],
            ["retry", 1, 2, task.uuid, grandchild],
            ["error", 0, 3, child, undefined],
          ],
        );
        assert.equal(chain[1].error?.message, "still flaky");
        assert.ok(chain[1].runAt instanceof Date, "a delayed retry has runAt");
        assert.equal(chain[2].runAt, undefined, "a retry without delay has none");
      }),
  );

  contractTest(
    "does not retry a running task whose cancel was requested: it ends as error",
    () =>
      withBroker(async (broker) => {
        const task = newTask();
        await broker.add(task);
        await broker.exchange(exchangeRequest({ want: 1 }));
        assert.equal(await broker.cancel(task.uuid, "stop", 60_000), "cancelling");
        const child = crypto.randomUUID();
        const result = await broker.exchange(exchangeRequest({
          settlements: [retrySettlement(task.uuid, 1, child, 0, 3)],
        }));
        assert.deepEqual(result.rejected, []);
        const record = await mustGet(broker, task.uuid);
        assert.equal(record.status, "error");
        assert.equal(record.error?.message, "flaky");
        assert.equal(record.retryChildUuid, undefined);
        assert.equal(await broker.get(child), undefined, "no next attempt");
      }),
  );

  contractTest(
    "cancelling a retried task cancels its latest attempt",
    () =>
      withBroker(async (broker) => {
        const delayMs = shortDelay(100);
        const task = newTask();
        await broker.add(task);
        await broker.exchange(exchangeRequest({ want: 1 }));
        const child = crypto.randomUUID();
        await broker.exchange(exchangeRequest({
          settlements: [retrySettlement(task.uuid, 1, child, delayMs, 1)],
        }));
        assert.equal(await broker.cancel(task.uuid, "enough", 60_000), "cancelled");
        assert.equal(
          (await mustGet(broker, task.uuid)).status,
          "retry",
          "the parent keeps its status",
        );
        const cancelled = await mustGet(broker, child);
        assert.equal(cancelled.status, "cancel");
        assert.equal(cancelled.cancelReason, "enough");
        await passTime(broker, delayMs + 1);
        const claim = await broker.exchange(exchangeRequest({ want: 10 }));
        assert.deepEqual(claim.claimed, [], "the cancelled attempt is never claimed");
        assert.equal(await broker.cancel(task.uuid, "again", 60_000), "finished");
      }),
  );
}

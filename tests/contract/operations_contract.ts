/**
 * The contract of the operator's port, `QueueOperations` (`broker.operations`), run against every
 * implementation (see memory_broker_test.ts and redis_broker_test.ts): query by status and task
 * name with cursor pages, uuid-prefix lookup, counts, retry, retryAll, delete, clean, drain, pause
 * and resume honoured by the claim, the event stream and task logs.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { TaskStateError } from "../../mod.ts";
import type { Broker, QueueOperations, TaskEvent } from "../../src/ports/mod.ts";
import {
  appName,
  componentContext,
  exchangeRequest,
  mustGet,
  newTask as anyTask,
} from "./broker_contract.ts";
import type { NewTask } from "../../src/ports/mod.ts";

/** How an implementation plugs into the suite. */
export interface OperationsContractOptions {
  /**
   * Makes the uuids of the suite's tasks (default `crypto.randomUUID()`). A partitioned Redis
   * app gives uuids of one partition: the suite checks orders (newest first, priority, FIFO)
   * that a partitioned app promises within one partition only.
   */
  uuid?: () => string;
  /** Moves the broker's clock forward by `ms` (memory); without it, expiry tests wait. */
  advanceClock?: (broker: Broker, ms: number) => void | Promise<void>;
}

/** Makes the uuids of the suite's tasks (see the `uuid` option). */
let makeUuid: () => string = () => crypto.randomUUID();

/** A task of the suite, its uuid from {@linkcode makeUuid}. */
function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return anyTask({ uuid: makeUuid(), ...overrides });
}

/**
 * Registers the operations contract tests of one Broker implementation.
 *
 * @param label The implementation, first word of every test name.
 * @param makeBroker Makes a new, unstarted broker for app `name`.
 * @param options Hooks of the implementation.
 */
export function operationsContract(
  label: string,
  makeBroker: (name: string) => Broker | Promise<Broker>,
  options: OperationsContractOptions = {},
): void {
  if (options.uuid) makeUuid = options.uuid;
  async function withOps(
    body: (broker: Broker, ops: QueueOperations) => Promise<void>,
  ): Promise<void> {
    const broker = await makeBroker(appName());
    try {
      await broker.start(componentContext());
      assert.ok(broker.operations, `${label} offers operations`);
      await body(broker, broker.operations);
    } finally {
      try {
        await broker.flushAll();
      } finally {
        await broker.stop();
      }
    }
  }

  /** Adds tasks one by one (so their order is their enqueue order); returns their uuids. */
  async function addAll(broker: Broker, names: string[], delayMs = 0): Promise<string[]> {
    const uuids: string[] = [];
    for (const taskName of names) {
      const task = newTask({ taskName, ...(delayMs > 0 ? { delayMs } : {}) });
      await broker.add(task);
      uuids.push(task.uuid);
    }
    return uuids;
  }

  /** Claims `want` tasks and settles them all with `status`. */
  async function runAll(
    broker: Broker,
    want: number,
    status: "success" | "error" | "cancel",
  ): Promise<string[]> {
    const { claimed } = await broker.exchange(exchangeRequest({ want }));
    await broker.exchange(exchangeRequest({
      settlements: claimed.map((task) =>
        status === "success"
          ? { uuid: task.uuid, deliveries: task.deliveries, status, returning: "1" }
          : status === "error"
          ? {
            uuid: task.uuid,
            deliveries: task.deliveries,
            status,
            error: { type: "Error", message: "boom" },
          }
          : { uuid: task.uuid, deliveries: task.deliveries, status, reason: "stop" }
      ),
    }));
    return claimed.map((task) => task.uuid);
  }

  async function readAll(ops: QueueOperations, query: Parameters<QueueOperations["list"]>[0]) {
    const uuids: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await ops.list({ ...query, ...(cursor ? { cursor } : {}) });
      uuids.push(...page.records.map((r) => r.uuid));
      cursor = page.cursor;
      pages++;
      assert.ok(pages < 100, "pagination ends");
    } while (cursor);
    return { uuids, pages };
  }

  test(`${label} lists tasks by status, by task name and both, newest first, in cursor pages`, () =>
    withOps(async (broker, ops) => {
      const done = await addAll(broker, ["a", "b", "a"]);
      await runAll(broker, 3, "success");
      const queued = await addAll(broker, ["a", "b", "a", "a", "b"]);
      const scheduled = await addAll(broker, ["b"], 60_000);

      const newestFirst = (uuids: string[]) => [...uuids].reverse();
      assert.deepEqual(
        (await ops.list({ status: "queued" })).records.map((r) => r.uuid),
        newestFirst(queued),
      );
      assert.deepEqual(
        (await ops.list({ status: "success", taskName: "a" })).records.map((r) => r.uuid),
        newestFirst([done[0], done[2]]),
      );
      assert.deepEqual(
        (await ops.list({ status: "scheduled" })).records.map((r) => r.uuid),
        scheduled,
      );
      const byName = await readAll(ops, { taskName: "b", limit: 2 });
      assert.deepEqual(byName.uuids, newestFirst([done[1], queued[1], queued[4], scheduled[0]]));
      assert.equal(byName.pages, 2);
      const all = await readAll(ops, { limit: 3 });
      assert.deepEqual(all.uuids, newestFirst([...done, ...queued, ...scheduled]));
      const page = await ops.list({ status: "queued", limit: 2 });
      assert.equal(page.records.length, 2);
      assert.equal(page.records[0].status, "new");
      assert.ok(page.cursor);
      const last = await ops.list({ status: "queued", limit: 5 });
      assert.equal(last.cursor, undefined, "no cursor on the last page");
    }));

  test(`${label} lists queued tasks of mixed priorities newest first, page by page, and counts them per name`, () =>
    withOps(async (broker, ops) => {
      const plan: Array<[string, number]> = [
        ["p", 5],
        ["q", 0],
        ["p", 0],
        ["p", -1],
        ["q", 5],
        ["p", 5],
        ["q", -1],
        ["p", 0],
      ];
      const uuids: string[] = [];
      for (const [taskName, priority] of plan) {
        const task = newTask({ taskName, priority });
        await broker.add(task);
        uuids.push(task.uuid);
      }
      const newestFirst = (list: string[]) => [...list].reverse();
      const ofName = (name: string) => uuids.filter((_, i) => plan[i][0] === name);
      assert.deepEqual(
        (await readAll(ops, { status: "queued", limit: 3 })).uuids,
        newestFirst(uuids),
      );
      const p = await readAll(ops, { status: "queued", taskName: "p", limit: 2 });
      assert.deepEqual(p.uuids, newestFirst(ofName("p")));
      assert.equal(p.pages, 3);
      assert.deepEqual(
        (await readAll(ops, { status: "queued", taskName: "q", limit: 1 })).uuids,
        newestFirst(ofName("q")),
      );
      // Claiming takes the lowest priority value first; the rest stay listed and counted.
      const { claimed } = await broker.exchange(exchangeRequest({ want: 3 }));
      const left = uuids.filter((uuid) => !claimed.some((task) => task.uuid === uuid));
      assert.deepEqual(
        (await readAll(ops, { status: "queued", limit: 2 })).uuids,
        newestFirst(left),
      );
      const counts = await ops.counts();
      assert.equal(counts.byStatus.queued, left.length);
      assert.equal(
        counts.byTaskName.p.queued + counts.byTaskName.q.queued,
        left.length,
      );
      assert.equal(counts.byTaskName.p.queued, left.filter((u) => ofName("p").includes(u)).length);
      assert.equal(counts.byStatus.running, 3);
    }));

  test(`${label} lists running, failed and cancelled tasks under their status`, () =>
    withOps(async (broker, ops) => {
      await addAll(broker, ["x", "x", "x"]);
      const [failed] = await runAll(broker, 1, "error");
      const [cancelled] = await runAll(broker, 1, "cancel");
      const { claimed } = await broker.exchange(exchangeRequest({ want: 1 }));
      const ids = async (status: "running" | "error" | "cancel" | "queued") =>
        (await ops.list({ status })).records.map((r) => r.uuid);
      assert.deepEqual(await ids("running"), [claimed[0].uuid]);
      assert.deepEqual(await ids("error"), [failed]);
      assert.deepEqual(await ids("cancel"), [cancelled]);
      assert.deepEqual(await ids("queued"), []);
    }));

  test(`${label} refuses a malformed query with a TypeError naming the field`, () =>
    withOps(async (_broker, ops) => {
      await assert.rejects(
        ops.list({ cursor: "nope" }),
        (e) => e instanceof TypeError && /cursor/.test(e.message),
      );
      await assert.rejects(
        // deno-lint-ignore no-explicit-any
        ops.list({ status: "done" as any }),
        (e) => e instanceof TypeError && /status/.test(e.message),
      );
      await assert.rejects(
        ops.list({ limit: 0 }),
        (e) => e instanceof TypeError && /limit/.test(e.message),
      );
      await assert.rejects(
        ops.list({ taskName: "" }),
        (e) => e instanceof TypeError && /taskName/.test(e.message),
      );
      await assert.rejects(
        ops.find("ab"),
        (e) => e instanceof TypeError && /prefix/.test(e.message),
      );
      await assert.rejects(
        // deno-lint-ignore no-explicit-any
        ops.clean({ status: "queued" as any }),
        (e) => e instanceof TypeError && /status/.test(e.message),
      );
      await assert.rejects(
        ops.retryAll({ since: new Date(NaN) }),
        (e) => e instanceof TypeError && /since/.test(e.message),
      );
    }));

  test(`${label} finds tasks by uuid prefix`, () =>
    withOps(async (broker, ops) => {
      const task = newTask({ uuid: `abcd${crypto.randomUUID().slice(4)}` });
      const other = newTask({ uuid: `abce${crypto.randomUUID().slice(4)}` });
      await broker.add(task);
      await broker.add(other);
      assert.deepEqual((await ops.find("abcd")).map((r) => r.uuid), [task.uuid]);
      assert.deepEqual((await ops.find(task.uuid)).map((r) => r.uuid), [task.uuid]);
      assert.deepEqual(await ops.find("ffff0000"), []);
    }));

  test(`${label} counts tasks by status and by task name`, () =>
    withOps(async (broker, ops) => {
      await addAll(broker, ["a", "b", "a"]);
      await runAll(broker, 2, "error");
      await addAll(broker, ["c"], 60_000);
      const counts = await ops.counts();
      assert.deepEqual(counts.byStatus, {
        queued: 1,
        scheduled: 1,
        running: 0,
        success: 0,
        error: 2,
        cancel: 0,
        retry: 0,
      });
      assert.equal(counts.byTaskName.a.error, 1);
      assert.equal(counts.byTaskName.a.queued, 1);
      assert.equal(counts.byTaskName.b.error, 1);
      assert.equal(counts.byTaskName.c.scheduled, 1);
      assert.deepEqual(counts.paused, { app: false, taskNames: [] });
    }));

  test(`${label} retries a failed task as a new attempt linked to the old record, claimed once`, () =>
    withOps(async (broker, ops) => {
      await addAll(broker, ["r"]);
      const [failed] = await runAll(broker, 1, "error");
      const child = await ops.retry(failed);
      assert.ok(child);
      const old = await mustGet(broker, failed);
      assert.equal(old.status, "retry");
      assert.equal(old.retryChildUuid, child);
      const next = await mustGet(broker, child);
      assert.equal(next.status, "new");
      assert.equal(next.retryParentUuid, failed);
      assert.equal(next.attempt, 2);
      assert.deepEqual(next.args, [1, 2]);
      await assert.rejects(
        ops.retry(failed),
        TaskStateError,
        "a retried record is not retried twice",
      );
      const { claimed } = await broker.exchange(exchangeRequest({ want: 10 }));
      assert.deepEqual(claimed.map((t) => t.uuid), [child]);
      assert.deepEqual((await ops.list({ status: "retry" })).records.map((r) => r.uuid), [failed]);
    }));

  test(`${label} refuses to retry a queued, running or succeeded task with a TaskStateError, and returns undefined for an unknown uuid`, () =>
    withOps(async (broker, ops) => {
      const [done, running, queued] = await addAll(broker, ["s", "s", "s"]);
      await runAll(broker, 1, "success");
      await broker.exchange(exchangeRequest({ want: 1 }));
      for (const [uuid, status] of [[queued, "queued"], [running, "running"], [done, "success"]]) {
        await assert.rejects(
          ops.retry(uuid),
          (e) => e instanceof TaskStateError && e.code === "TASK_STATE" && e.status === status,
        );
      }
      assert.equal((await mustGet(broker, queued)).status, "new", "nothing changed");
      assert.equal(await ops.retry(crypto.randomUUID()), undefined);
    }));

  test(`${label} retryAll re-enqueues the failed tasks of a name, each once`, () =>
    withOps(async (broker, ops) => {
      await addAll(broker, ["f", "g", "f", "f"]);
      await runAll(broker, 3, "error");
      await runAll(broker, 1, "cancel");
      assert.equal(await ops.retryAll({ taskName: "f", status: "error" }), 2);
      assert.equal(await ops.retryAll({ taskName: "f", status: "error" }), 0, "nothing twice");
      assert.equal(await ops.retryAll({ since: new Date(Date.now() + 3_600_000) }), 0);
      assert.equal(await ops.retryAll(), 2, "the other failed and the cancelled one");
      const { claimed } = await broker.exchange(exchangeRequest({ want: 10 }));
      assert.equal(claimed.length, 4);
      assert.equal(new Set(claimed.map((t) => t.uuid)).size, 4);
    }));

  test(`${label} deletes a queued task (never claimed) and a finished one, refuses a running one, and returns false for an unknown uuid`, () =>
    withOps(async (broker, ops) => {
      const [done, running] = await addAll(broker, ["d", "d"]);
      await runAll(broker, 1, "success");
      await broker.exchange(exchangeRequest({ want: 1 }));
      const [queued] = await addAll(broker, ["d"]);
      assert.equal(await ops.delete(queued), true);
      assert.equal(await ops.delete(done), true);
      assert.equal(await broker.get(queued), undefined);
      assert.equal(await broker.get(done), undefined);
      await assert.rejects(ops.delete(running), TaskStateError);
      assert.equal((await mustGet(broker, running)).status, "process");
      assert.equal(await ops.delete(crypto.randomUUID()), false);
      assert.deepEqual((await broker.exchange(exchangeRequest({ want: 10 }))).claimed, []);
      assert.deepEqual((await ops.counts()).byStatus.success, 0);
    }));

  test(`${label} cleans finished records by status, task name and age`, () =>
    withOps(async (broker, ops) => {
      await addAll(broker, ["c1", "c2", "c1"]);
      await runAll(broker, 3, "success");
      await addAll(broker, ["c1"]);
      await runAll(broker, 1, "error");
      assert.equal(await ops.clean({ status: "success", olderThanMs: 3_600_000 }), 0, "too young");
      assert.equal(await ops.clean({ status: "success", taskName: "c1", limit: 1 }), 1);
      assert.equal(await ops.clean({ status: "success" }), 2);
      const counts = await ops.counts();
      assert.equal(counts.byStatus.success, 0);
      assert.equal(counts.byStatus.error, 1, "another status is kept");
    }));

  test(`${label} drains queued and scheduled tasks and never a running one`, () =>
    withOps(async (broker, ops) => {
      const [running] = await addAll(broker, ["w"]);
      await broker.exchange(exchangeRequest({ want: 1 }));
      await addAll(broker, ["w", "v", "w"]);
      await addAll(broker, ["w"], 60_000);
      assert.equal(await ops.drain({ taskName: "v" }), 1);
      assert.equal(await ops.drain(), 3);
      assert.equal((await mustGet(broker, running)).status, "process");
      assert.deepEqual((await broker.exchange(exchangeRequest({ want: 10 }))).claimed, []);
      const counts = await ops.counts();
      assert.equal(counts.byStatus.queued + counts.byStatus.scheduled, 0);
      assert.equal(counts.byStatus.running, 1);
    }));

  test(`${label} pauses the app: the next exchange claims nothing until it is resumed`, () =>
    withOps(async (broker, ops) => {
      await addAll(broker, ["p", "q"]);
      await ops.pause();
      assert.deepEqual(await ops.paused(), { app: true, taskNames: [] });
      assert.deepEqual((await broker.exchange(exchangeRequest({ want: 10 }))).claimed, []);
      assert.equal((await ops.counts()).paused.app, true);
      await ops.resume();
      assert.equal((await broker.exchange(exchangeRequest({ want: 10 }))).claimed.length, 2);
    }));

  test(`${label} pauses one task name: its tasks wait while others are claimed, and are claimable again once resumed`, () =>
    withOps(async (broker, ops) => {
      await ops.pause("slow");
      const [slow1, fast, slow2] = await addAll(broker, ["slow", "fast", "slow"]);
      assert.deepEqual(
        (await broker.exchange(exchangeRequest({ want: 10 }))).claimed.map((t) => t.uuid),
        [fast],
      );
      assert.deepEqual((await ops.counts()).paused, { app: false, taskNames: ["slow"] });
      assert.equal((await ops.list({ status: "queued", taskName: "slow" })).records.length, 2);
      await ops.resume("slow");
      assert.deepEqual(
        (await broker.exchange(exchangeRequest({ want: 10 }))).claimed.map((t) => t.uuid),
        [slow1, slow2],
        "in their order",
      );
    }));

  test(`${label} never claims a paused task that was deleted or cancelled meanwhile`, () =>
    withOps(async (broker, ops) => {
      await ops.pause("z");
      const [deleted, cancelled] = await addAll(broker, ["z", "z"]);
      await broker.exchange(exchangeRequest({ want: 10 }));
      assert.equal(await ops.delete(deleted), true);
      assert.equal(await broker.cancel(cancelled, "no", 60_000), "cancelled");
      await ops.resume("z");
      assert.deepEqual((await broker.exchange(exchangeRequest({ want: 10 }))).claimed, []);
    }));

  test(`${label} streams every status change of a task to a subscriber, in order, filtered by task name`, () =>
    withOps(async (broker, ops) => {
      const events: TaskEvent[] = [];
      let resolveDone!: () => void;
      const done = new Promise<void>((resolve) => resolveDone = resolve);
      const stop = await ops.subscribe((event) => {
        events.push(event);
        if (event.status === "success") resolveDone();
      }, { taskNames: ["watched"] });
      try {
        await addAll(broker, ["ignored"]);
        const [watched] = await addAll(broker, ["watched"]);
        await broker.exchange(exchangeRequest({ want: 10 }));
        await broker.exchange(exchangeRequest({
          settlements: [
            { uuid: watched, deliveries: 1, status: "success", returning: "1" },
          ],
        }));
        await done;
        assert.deepEqual(
          events.map((e) => [e.uuid, e.taskName, e.status]),
          [[watched, "watched", "queued"], [watched, "watched", "running"], [
            watched,
            "watched",
            "success",
          ]],
        );
        assert.ok(events.every((e) => e.at.getTime() > 0));
      } finally {
        stop();
      }
    }));

  test(`${label} keeps a task's log lines, capped by lines and bytes with a marker, and reads them`, () =>
    withOps(async (broker, ops) => {
      assert.ok(broker.appendLog, `${label} stores logs`);
      const [uuid] = await addAll(broker, ["l"]);
      const caps = { maxLines: 3, maxBytes: 10_000 };
      const line = (n: number) => JSON.stringify({ at: 1000 + n, level: "info", message: `m${n}` });
      assert.equal(await broker.appendLog("worker-a", uuid, 1, line(0), caps), false, "queued");
      await broker.exchange(exchangeRequest({ want: 1 }));
      for (let n = 1; n <= 5; n++) {
        assert.equal(await broker.appendLog("worker-a", uuid, 1, line(n), caps), true);
      }
      assert.equal(await broker.appendLog("worker-b", uuid, 1, line(9), caps), false);
      const logs = await ops.logs(uuid);
      assert.ok(logs);
      assert.deepEqual(logs.map((l) => [l.level, l.message]), [
        ["warn", "… 2 earlier lines dropped (log cap)"],
        ["info", "m3"],
        ["info", "m4"],
        ["info", "m5"],
      ]);
      const small = { maxLines: 100, maxBytes: 2 * line(6).length + 1 };
      await broker.appendLog("worker-a", uuid, 1, line(6), small);
      assert.equal((await ops.logs(uuid))!.length, 3, "the byte cap drops the oldest too");
      assert.deepEqual((await mustGet(broker, uuid)).extra, {}, "logs are not extra fields");
      assert.equal(await ops.logs(crypto.randomUUID()), undefined);
    }));

  test(`${label} drops the index entries of records once they expired`, () =>
    withOps(async (broker, ops) => {
      await addAll(broker, ["e", "e"]);
      const { claimed } = await broker.exchange(exchangeRequest({ want: 2 }));
      await broker.exchange(exchangeRequest({
        resultTtlMs: 300,
        settlements: claimed.map((t) => ({
          uuid: t.uuid,
          deliveries: 1,
          status: "success" as const,
          returning: "1",
        })),
      }));
      assert.equal((await ops.counts()).byStatus.success, 2);
      if (options.advanceClock) await options.advanceClock(broker, 1_000);
      else await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal((await ops.counts()).byStatus.success, 0);
      assert.deepEqual((await ops.list({})).records, []);
    }));

  test(`${label} keeps failed and cancelled records for failedTtlMs, successes for resultTtlMs`, () =>
    withOps(async (broker, ops) => {
      await addAll(broker, ["k", "k"]);
      const { claimed } = await broker.exchange(exchangeRequest({ want: 2 }));
      await broker.exchange(exchangeRequest({
        resultTtlMs: 300,
        failedTtlMs: 60_000,
        settlements: [
          { uuid: claimed[0].uuid, deliveries: 1, status: "success", returning: "1" },
          {
            uuid: claimed[1].uuid,
            deliveries: 1,
            status: "error",
            error: { type: "Error", message: "x" },
          },
        ],
      }));
      if (options.advanceClock) await options.advanceClock(broker, 1_000);
      else await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(await broker.get(claimed[0].uuid), undefined);
      assert.equal((await mustGet(broker, claimed[1].uuid)).status, "error");
      assert.equal((await ops.counts()).byStatus.error, 1);
    }));
}

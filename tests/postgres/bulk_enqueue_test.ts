/**
 * The PostgreSQL bulk enqueue (`addBulk`, issue 20): a batch of new tasks is one statement per
 * 1,000 tasks with its events, and what it stores is what a single `add` stores; a uuid that has
 * a record sends the batch down the skipping path, which replaces an expired record and names a
 * live one, all or none. Counts the statements the broker sends through its connection. Needs
 * PostgreSQL at QTASKS_TEST_POSTGRES_URL.
 *
 * @module
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { PostgresBroker, PostgresConnection } from "../../src/backends/postgres/mod.ts";
import { DuplicateTaskError } from "../../src/model/errors/duplicate_task_error.ts";
import type { NewTask } from "../../src/ports/broker.ts";
import { newTaskUuids } from "../../src/model/task_uuid.ts";
import { appName, componentContext, newTask } from "../contract/broker_contract.ts";
import { type CountedBroker, countedBroker } from "../support/counted_broker.ts";
import { testPostgresUrl, uniqueSchema } from "../support/postgres.ts";

const url = testPostgresUrl();
const schema = uniqueSchema("bulk");
const connection = new PostgresConnection({ url, schema });
connection.acquire();
const S = `"${schema}"`;

after(async () => {
  await connection.sql.unsafe(`drop schema if exists ${S} cascade`);
  await connection.release();
});

const counted = (): Promise<CountedBroker> => countedBroker(connection);

/** Runs `body` with a started broker of a new app, then clears the app and stops the broker. */
async function withBroker(body: (broker: PostgresBroker) => Promise<void>): Promise<void> {
  const broker = new PostgresBroker({ name: appName(), connection });
  await broker.start(componentContext());
  try {
    await body(broker);
  } finally {
    await broker.flushAll();
    await broker.stop();
  }
}

/**
 * Adds `task` in a transaction of its own: its record is then a row of `records` at once (an add
 * without one leaves it waiting in its queue entry until its first claim).
 */
async function storeRecord(broker: PostgresBroker, task: NewTask): Promise<void> {
  await connection.transaction((tx) => broker.add({ ...task, tx }));
}

/** How long {@linkcode newEvents} waits for the last event before it answers with what it heard. */
const HEARD_WITHIN_MS = 10_000;

/**
 * Listens for the `new` events of `broker`'s app: `heard` resolves with their uuids once `count`
 * were heard, or with those heard so far after {@linkcode HEARD_WITHIN_MS} (so that a missing
 * event fails the test's assertion rather than hanging it).
 */
async function newEvents(
  broker: PostgresBroker,
  count: number,
): Promise<{ heard: Promise<string[]>; stop: () => void }> {
  const uuids: string[] = [];
  let answer!: (uuids: string[]) => void;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const heard = new Promise<string[]>((resolve) => {
    answer = resolve;
    timer = setTimeout(() => resolve([...uuids]), HEARD_WITHIN_MS);
  });
  const unlisten = await broker.storage.onEvent((line) => {
    if (line[0] !== broker.name || line[2] !== "new") return;
    uuids.push(line[1]);
    if (uuids.length === count) {
      clearTimeout(timer);
      answer(uuids);
    }
  });
  return {
    heard,
    stop: () => {
      clearTimeout(timer);
      unlisten();
    },
  };
}

/**
 * The app's records (fields, as the view `tasks` shows them: rows of `records` and records pending
 * in their queue entries), the uuids of those pending, and the queue entries, by uuid.
 */
async function stored(app: string) {
  const records = await connection.sql.unsafe(
    `select uuid, fields from ${S}.tasks where app = $1`,
    [app],
  );
  const pending = await connection.sql.unsafe(
    `select uuid from ${S}.queue where app = $1 and fields is not null`,
    [app],
  );
  const queue = await connection.sql.unsafe(
    `select uuid, priority, seq::int as seq, task_name, qname, deadline is not null as deadline,
       due_at > now() + interval '1 minute' as later, conc_slot, conc_limit, rate_slot,
       rate_limit::int as rate_limit, rate_ms::int as rate_ms, parked, rate_parked, quarantine
     from ${S}.queue where app = $1`,
    [app],
  );
  return {
    records: new Map(records.map((row) => [row.uuid as string, row.fields])),
    pending: new Set(pending.map((row) => row.uuid as string)),
    queue: new Map(queue.map((row) => [row.uuid as string, { ...row }])),
  };
}

test("a bulk enqueue of 1,000 new tasks is one statement that also sends their events", async () => {
  const { broker, sent, restore } = await counted();
  const tasks = Array.from({ length: 1000 }, () => newTask());
  const { heard, stop } = await newEvents(broker, tasks.length);
  try {
    const before = sent();
    await broker.addBulk(tasks);
    assert.equal(sent() - before, 1);
    const { records, pending, queue } = await stored(broker.name);
    assert.equal(records.size, 1000);
    assert.equal(queue.size, 1000);
    // Each record waits in its queue entry, none in the records table.
    assert.equal(pending.size, 1000);
    const [table] = await connection.sql.unsafe(
      `select count(*)::int as n from ${S}.records where app = $1`,
      [broker.name],
    );
    assert.equal(table.n, 0);
    // The seq follows the batch's order.
    const seqs = tasks.map((task) => queue.get(task.uuid)!.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
    assert.deepEqual(new Set(await heard), new Set(tasks.map((task) => task.uuid)));
  } finally {
    stop();
    restore();
    await broker.flushAll();
    await broker.stop();
  }
});

test("a task added in bulk is stored as add stores it, flow control included", () =>
  withBroker(async (broker) => {
    const shape = (): NewTask =>
      newTask({
        taskName: "contract.limited",
        priority: 3,
        args: '["a\\nb",{"q":"\\"x\\""}]',
        kwargs: '{"k":1}',
        extra: { tenant: "t1" },
        headers: { trace: "abc" },
        queue: "emails",
        delayMs: 120_000,
        expiresInMs: 600_000,
        concurrency: { slot: "contract.limited", limit: 2 },
        rateLimit: { slot: "per:key x", limit: 5, durationMs: 1000 },
      });
    const alone = shape();
    const bulk = [shape(), newTask()];
    await broker.add(alone);
    await broker.addBulk(bulk);
    const { records, queue } = await stored(broker.name);
    // Every field but the uuid-bound and time-bound ones is the same.
    const comparable = (fields: Record<string, string>) => {
      const {
        seq: _seq,
        created_at: _created,
        updated_at: _updated,
        run_at: _run,
        expires_at: _expires,
        ...rest
      } = fields;
      return rest;
    };
    const one = records.get(alone.uuid)!;
    const many = records.get(bulk[0].uuid)!;
    assert.deepEqual(comparable(many), comparable(one));
    assert.deepEqual(Object.keys(many).sort(), Object.keys(one).sort());
    assert.equal(many.created_at, many.updated_at);
    assert.match(many.created_at, /^\d+\.\d{3}$/);
    assert.ok(Number(many.run_at) - Number(many.created_at) >= 119.99);
    assert.ok(Number(many.expires_at) - Number(many.created_at) >= 599.99);
    const { uuid: _a, seq: _s1, ...entryAlone } = queue.get(alone.uuid)!;
    const { uuid: _b, seq: _s2, ...entryBulk } = queue.get(bulk[0].uuid)!;
    assert.deepEqual(entryBulk, entryAlone);
    assert.deepEqual(
      [entryBulk.rate_slot, entryBulk.rate_limit, entryBulk.rate_ms, entryBulk.qname],
      ["per:key x", 5, 1000, "emails"],
    );
    // The plain task of the same batch: no flow-control column, due now.
    const plain = queue.get(bulk[1].uuid)!;
    assert.deepEqual(
      [plain.qname, plain.deadline, plain.later, plain.conc_slot, plain.rate_slot],
      ["default", false, false, null, null],
    );
    assert.equal(records.get(bulk[1].uuid)!.run_at, undefined);
  }));

test("a bulk enqueue that meets the uuid of an expired record replaces it", () =>
  withBroker(async (broker) => {
    const old = newTask({ args: "[1]" });
    await storeRecord(broker, old);
    // Finished long ago, its retention over (not swept yet).
    await connection.sql.unsafe(`delete from ${S}.queue where app = $1`, [broker.name]);
    await connection.sql.unsafe(
      `update ${S}.records set expires_at = now() - interval '1 second',
         fields = fields || '{"status":"success"}' where app = $1`,
      [broker.name],
    );
    const again = { ...old, args: "[2]" };
    const other = newTask();
    await broker.addBulk([other, again]);
    const { records, queue } = await stored(broker.name);
    assert.equal(records.get(old.uuid)!.status, "new");
    assert.equal(records.get(old.uuid)!.args, "[2]");
    assert.ok(queue.has(old.uuid) && queue.has(other.uuid));
  }));

test("a bulk batch whose uuids surround another task's record is still stored by its one statement", async () => {
  const { broker, sent, restore } = await counted();
  try {
    // Ascending uuids: the record of `middle` falls in the batch's range, and is not in it.
    const [first, middle, last] = newTaskUuids(3).map((uuid) => newTask({ uuid }));
    await storeRecord(broker, middle);
    const before = sent();
    await broker.addBulk([last, first]);
    assert.equal(sent() - before, 1);
    const { records, pending } = await stored(broker.name);
    assert.deepEqual(pending, new Set([first.uuid, last.uuid]));
    assert.equal(records.get(middle.uuid)!.args, middle.args);
    assert.equal(records.get(first.uuid)!.status, "new");
  } finally {
    restore();
    await broker.flushAll();
    await broker.stop();
  }
});

test("a bulk enqueue of several chunks that meets a live uuid stores none and names it", () =>
  withBroker(async (broker) => {
    const live = newTask();
    await broker.add(live);
    const tasks = Array.from({ length: 2500 }, () => newTask());
    tasks[1700] = { ...live, args: "[9]" };
    await assert.rejects(
      broker.addBulk(tasks),
      (error) => error instanceof DuplicateTaskError && error.message.includes(live.uuid),
    );
    const { records, queue } = await stored(broker.name);
    assert.deepEqual([...records.keys()], [live.uuid]);
    assert.equal(records.get(live.uuid)!.args, live.args);
    assert.deepEqual([...queue.keys()], [live.uuid]);
  }));

test("a bulk enqueue of tasks with long non-ASCII names keeps each notification under 8,000 bytes", () =>
  withBroker(async (broker) => {
    const taskName = "задача任务🙂".repeat(12); // 120 UTF-16 units, 264 bytes in UTF-8
    const tasks = Array.from({ length: 300 }, () => newTask({ taskName }));
    const { heard, stop } = await newEvents(broker, tasks.length);
    try {
      await broker.addBulk(tasks);
      assert.deepEqual(new Set(await heard), new Set(tasks.map((task) => task.uuid)));
      const { records } = await stored(broker.name);
      assert.equal(records.size, tasks.length);
      assert.equal(records.get(tasks[0].uuid)!.task_name, taskName);
    } finally {
      stop();
    }
  }));

test("a bulk enqueue refuses a uuid with a comma and stores nothing", () =>
  withBroker(async (broker) => {
    const tasks = [newTask(), newTask({ uuid: "a,b" }), newTask()];
    await assert.rejects(
      broker.addBulk(tasks),
      (error) =>
        error instanceof TypeError && error.message.includes("uuid must be a UUID, got a,b"),
    );
    const { records, queue } = await stored(broker.name);
    assert.equal(records.size, 0);
    assert.equal(queue.size, 0);
  }));

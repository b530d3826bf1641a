/**
 * Pending records on PostgreSQL (schema versions 7 and 8): a task added without a transaction, in
 * bulk or alone, keeps its record in its queue entry until it is first claimed (since version 8,
 * only what the entry's columns do not hold); reads, claims, cancels, operations and duplicates treat it as a record like any other,
 * an older QTasks cannot drop it, and entries written by version 7 still read after the upgrade.
 * Needs PostgreSQL at QTASKS_TEST_POSTGRES_URL.
 *
 * @module
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { DuplicateTaskError } from "../../mod.ts";
import { PostgresBroker, PostgresConnection } from "../../src/backends/postgres/mod.ts";
import { PENDING_GUARD_STATE } from "../../src/backends/postgres/_pending_sql.ts";
import type { NewTask } from "../../src/model/messages.ts";
import { exchangeRequest, newTask } from "../contract/broker_contract.ts";
import {
  createSchemaAt,
  testPostgresUrl,
  uniqueSchema,
  withFreshBroker,
} from "../support/postgres.ts";

const url = testPostgresUrl();
const schema = uniqueSchema("pending");
const S = `"${schema}"`;
const connection = new PostgresConnection({ url, schema });
connection.acquire();

after(async () => {
  await connection.sql.unsafe(`drop schema if exists ${S} cascade`);
  await connection.release();
});

/** Runs `body` with a broker of a fresh app on the file's schema, flushed and stopped after. */
function withBroker(body: (broker: PostgresBroker) => Promise<void>): Promise<void> {
  return withFreshBroker(connection, "pending", body);
}

/** Whether the record of `uuid` is pending in its queue entry, and whether it has a row. */
async function where(broker: PostgresBroker, uuid: string): Promise<[boolean, boolean]> {
  const [row] = await connection.sql.unsafe(
    `select exists (select 1 from ${S}.queue where app = $1 and uuid = $2 and fields is not null)
         as pending,
       exists (select 1 from ${S}.records where app = $1 and uuid = $2) as stored`,
    [broker.name, uuid],
  );
  return [row.pending, row.stored];
}

/** Adds `tasks` in bulk: their records are pending. */
async function addPending(broker: PostgresBroker, tasks: NewTask[]): Promise<void> {
  await broker.addBulk(tasks);
  for (const task of tasks) assert.deepEqual(await where(broker, task.uuid), [true, false]);
}

test("a pending record reads as a new task, and its claim stores it with the claim's fields", () =>
  withBroker(async (broker) => {
    const task = newTask({ args: "[7]", extra: { tenant: "t1" } });
    await addPending(broker, [task]);
    const waiting = await broker.get(task.uuid);
    assert.equal(waiting?.status, "new");
    assert.deepEqual(waiting?.args, [7]);
    assert.equal(waiting?.extra?.tenant, "t1");
    assert.deepEqual((await broker.storage.getAll()).map((record) => record.uuid), [task.uuid]);
    const [claimed] = (await broker.exchange(exchangeRequest({ want: 1 }))).claimed;
    assert.equal(claimed.uuid, task.uuid);
    assert.equal(claimed.deliveries, 1);
    assert.deepEqual(await where(broker, task.uuid), [false, true]);
    const running = await broker.get(task.uuid);
    assert.equal(running?.status, "process");
    assert.deepEqual(running?.args, [7]);
    const settled = await broker.exchange(exchangeRequest({
      settlements: [{
        uuid: claimed.uuid,
        deliveries: claimed.deliveries,
        status: "success",
        returning: "42",
      }],
    }));
    assert.deepEqual(settled.rejected, []);
    assert.equal((await broker.get(task.uuid))?.returning, 42);
  }));

test("a task added alone waits in its queue entry as one added in bulk, and adds of one turn each stand alone", () =>
  withBroker(async (broker) => {
    const task = newTask({ args: "[7]" });
    await broker.add(task);
    assert.deepEqual(await where(broker, task.uuid), [true, false]);
    assert.deepEqual((await broker.get(task.uuid))?.args, [7]);
    // Adds of the same turn go in one statement: a duplicate among them sends them the slow way,
    // where it alone is refused.
    const [before, after] = [newTask(), newTask()];
    const outcomes = await Promise.allSettled([
      broker.add(before),
      broker.add({ ...task, args: "[8]" }),
      broker.add(after),
    ]);
    assert.equal(outcomes[0].status, "fulfilled");
    assert.ok(
      outcomes[1].status === "rejected" && outcomes[1].reason instanceof DuplicateTaskError,
    );
    assert.equal(outcomes[2].status, "fulfilled");
    assert.deepEqual((await broker.get(task.uuid))?.args, [7]);
    const claimed = (await broker.exchange(exchangeRequest({ want: 3 }))).claimed;
    assert.deepEqual(claimed.map((each) => each.uuid), [task.uuid, before.uuid, after.uuid]);
    assert.deepEqual(await where(broker, task.uuid), [false, true]);
  }));

test("a pending task is cancelled, deleted and drained like a stored one", () =>
  withBroker(async (broker) => {
    const [cancelled, deleted, drained, kept] = [newTask(), newTask(), newTask(), newTask()];
    await addPending(broker, [cancelled, deleted, drained]);
    await broker.add(kept);
    assert.equal(await broker.cancel(cancelled.uuid, "no longer needed", 60_000), "cancelled");
    assert.equal((await broker.get(cancelled.uuid))?.status, "cancel");
    assert.deepEqual(await where(broker, cancelled.uuid), [false, true]);
    assert.equal(await broker.operations.delete(deleted.uuid), true);
    assert.equal(await broker.get(deleted.uuid), undefined);
    assert.equal(await broker.operations.drain(), 2);
    assert.equal(await broker.get(drained.uuid), undefined);
    assert.equal(await broker.get(kept.uuid), undefined);
    const left = await connection.sql.unsafe(
      `select count(*)::int as n from ${S}.queue where app = $1`,
      [broker.name],
    );
    assert.equal(left[0].n, 0);
    assert.deepEqual((await broker.exchange(exchangeRequest({ want: 5 }))).claimed, []);
  }));

test("the operations list, find and count pending tasks with the stored ones", () =>
  withBroker(async (broker) => {
    const stored = newTask();
    await broker.add(stored);
    const pending = [newTask(), newTask({ delayMs: 3_600_000 })];
    await addPending(broker, pending);
    const page = await broker.operations.list();
    assert.deepEqual(
      page.records.map((record) => record.uuid),
      [pending[1].uuid, pending[0].uuid, stored.uuid],
    );
    const queued = await broker.operations.list({ status: "queued" });
    assert.deepEqual(queued.records.map((record) => record.uuid), [pending[0].uuid, stored.uuid]);
    const scheduled = await broker.operations.list({ status: "scheduled" });
    assert.deepEqual(scheduled.records.map((record) => record.uuid), [pending[1].uuid]);
    const counts = await broker.operations.counts();
    assert.equal(counts.byStatus.queued, 2);
    assert.equal(counts.byStatus.scheduled, 1);
    const found = await broker.operations.find(pending[0].uuid.slice(0, 30));
    assert.deepEqual(found.map((record) => record.uuid), [pending[0].uuid]);
    assert.deepEqual(await broker.operations.logs(pending[0].uuid), []);
  }));

test("a page of the operations list reads a page of the pending entries, not all of them", () =>
  withBroker(async (broker) => {
    const backlog = Array.from({ length: 3000 }, (_, i) => newTask({ args: `[${i}]` }));
    await broker.addBulk(backlog.slice(0, 2500));
    const stored = newTask();
    await broker.add(stored);
    await broker.addBulk(backlog.slice(2500));
    await connection.sql.unsafe(`analyze ${S}.queue`);
    // The statements the list sends, to be explained.
    const sent: Array<[string, unknown[]]> = [];
    const run = connection.run.bind(connection);
    connection.run = (on, text, params) => {
      sent.push([text, params ?? []]);
      return run(on, text, params);
    };
    let page;
    try {
      page = await broker.operations.list({ limit: 20 });
    } finally {
      connection.run = run;
    }
    assert.deepEqual(
      page.records.map((record) => record.uuid),
      backlog.slice(-20).reverse().map((task) => task.uuid),
    );
    // The stored task's record comes between the pending ones, in the order they were added.
    const next = await broker.operations.list({ limit: 1000, cursor: page.cursor });
    assert.deepEqual(
      next.records.slice(479, 482).map((record) => record.uuid),
      [backlog[2500].uuid, stored.uuid, backlog[2499].uuid],
    );
    // Explained: no node reads more queue entries than a page (the limit and one more).
    const [text, params] = sent.find(([text]) => text.includes("order by seq desc"))!;
    const [plan] = await connection.sql.unsafe(
      `explain (analyze, format json) ${text}`,
      params as never,
    );
    const rowsOfQueue: number[] = [];
    const walk = (node: Record<string, unknown>) => {
      if (node["Relation Name"] === "queue") rowsOfQueue.push(node["Actual Rows"] as number);
      for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
    };
    walk((plan["QUERY PLAN"] as Array<{ Plan: Record<string, unknown> }>)[0].Plan);
    assert.equal(rowsOfQueue.length, 1);
    assert.ok(rowsOfQueue[0] <= 21, `the list read ${rowsOfQueue[0]} queue entries`);
  }));

test("a uuid whose record is pending is a duplicate for add, addBulk and addFlow", () =>
  withBroker(async (broker) => {
    const task = newTask();
    await addPending(broker, [task]);
    await assert.rejects(broker.add({ ...task }), DuplicateTaskError);
    await assert.rejects(broker.addBulk([newTask(), { ...task }]), DuplicateTaskError);
    await assert.rejects(
      broker.addFlow({ records: [], tasks: [{ ...task }] }),
      DuplicateTaskError,
    );
    assert.deepEqual(await where(broker, task.uuid), [true, false]);
    const [claimed] = (await broker.exchange(exchangeRequest({ want: 5 }))).claimed;
    assert.equal(claimed.uuid, task.uuid);
  }));

test("a pending task with a deadline that passed ends as cancelled on its claim", () =>
  withBroker(async (broker) => {
    const task = newTask({ expiresInMs: 1 });
    await addPending(broker, [task]);
    // Its deadline is 1 ms after the add (no event marks its passing): wait past it.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const result = await broker.exchange(exchangeRequest({ want: 1 }));
    assert.deepEqual(result.claimed, []);
    const record = await broker.get(task.uuid);
    assert.equal(record?.status, "cancel");
    assert.deepEqual(await where(broker, task.uuid), [false, true]);
  }));

test("tasks with a concurrency limit added in bulk are claimed up to their limit", () =>
  withBroker(async (broker) => {
    const tasks = Array.from(
      { length: 3 },
      () => newTask({ concurrency: { slot: "pending.limited", limit: 2 } }),
    );
    await addPending(broker, tasks);
    const first = await broker.exchange(exchangeRequest({ want: 5 }));
    assert.deepEqual(first.claimed.map((task) => task.uuid), tasks.slice(0, 2).map((t) => t.uuid));
    for (const task of tasks.slice(0, 2)) {
      assert.equal((await broker.get(task.uuid))?.status, "process");
    }
    assert.equal((await broker.get(tasks[2].uuid))?.status, "new");
  }));

test("deleting a pending entry the way an older QTasks would is refused, and the task stays", () =>
  withBroker(async (broker) => {
    const task = newTask();
    await addPending(broker, [task]);
    await assert.rejects(
      connection.sql.unsafe(`delete from ${S}.queue where app = $1 and uuid = $2`, [
        broker.name,
        task.uuid,
      ]),
      (error: Error & { code?: string }) =>
        error.code === PENDING_GUARD_STATE && error.message.includes(task.uuid),
    );
    assert.deepEqual(await where(broker, task.uuid), [true, false]);
    const [claimed] = (await broker.exchange(exchangeRequest({ want: 1 }))).claimed;
    assert.equal(claimed.uuid, task.uuid);
  }));

test("rate-limited tasks added in bulk are claimed up to their limit, the rest parked and readable", () =>
  withBroker(async (broker) => {
    const tasks = Array.from(
      { length: 3 },
      () => newTask({ rateLimit: { slot: "pending.rated", limit: 2, durationMs: 60_000 } }),
    );
    await addPending(broker, tasks);
    const first = await broker.exchange(exchangeRequest({ want: 5 }));
    assert.deepEqual(first.claimed.map((task) => task.uuid), tasks.slice(0, 2).map((t) => t.uuid));
    assert.equal((await broker.get(tasks[0].uuid))?.status, "process");
    assert.equal((await broker.get(tasks[2].uuid))?.status, "new");
    assert.deepEqual(await where(broker, tasks[2].uuid), [true, false]);
  }));

/** A record's fields but the ones that differ between two tasks added at different times. */
function comparable(fields: Record<string, unknown>): Record<string, unknown> {
  const {
    seq: _seq,
    created_at: _c,
    updated_at: _u,
    run_at: runAt,
    expires_at: expiresAt,
    ...rest
  } = fields;
  return { ...rest, run_at: typeof runAt, expires_at: typeof expiresAt };
}

test("a pending entry keeps only what its columns do not hold, and reads as the record an add stores", () =>
  withBroker(async (broker) => {
    const shapes: Array<Partial<NewTask>> = [
      { taskName: "emails.send", priority: 3, args: '["a\\"b",1]' },
      { taskName: "письмо", extra: { tenant: "t1" }, headers: { trace: "x" }, delayMs: 60_000 },
      { expiresInMs: 60_000, queue: "slow" },
    ];
    const pending = shapes.map((shape) => newTask(shape));
    const stored = shapes.map((shape) => newTask(shape));
    await addPending(broker, pending);
    for (const task of stored) await broker.add(task);
    const [plain] = await connection.sql.unsafe(
      `select fields from ${S}.queue where app = $1 and uuid = $2`,
      [broker.name, pending[0].uuid],
    );
    assert.equal(plain.fields, '{"args":"[\\"a\\\\\\"b\\",1]","kwargs":"{}"}');
    const rows = await connection.sql.unsafe(
      `select uuid, fields from ${S}.tasks where app = $1`,
      [broker.name],
    );
    const byUuid = new Map(rows.map((row) => [row.uuid as string, row.fields]));
    pending.forEach((task, i) => {
      const read = byUuid.get(task.uuid);
      assert.deepEqual(comparable(read), comparable(byUuid.get(stored[i].uuid)), task.taskName);
      assert.equal(read.created_at, read.updated_at);
      assert.match(read.created_at, /^[0-9]+\.[0-9]{1,3}$/);
    });
    // The claim stores the same record, with the claim's fields.
    const claimed = await broker.exchange(
      exchangeRequest({ want: 10, queues: ["default", "slow"] }),
    );
    assert.equal(claimed.claimed.length, 4);
    const record = await broker.get(pending[0].uuid);
    assert.equal(record?.status, "process");
    assert.equal(record?.taskName, "emails.send");
    assert.equal(record?.priority, 3);
    assert.deepEqual(record?.args, ['a"b', 1]);
  }));

test("entries a version 7 schema left pending read and claim after the upgrade to version 8", async () => {
  const old = uniqueSchema("pending_v7");
  const O = `"${old}"`;
  const app = "upgrade";
  const uuid = crypto.randomUUID();
  try {
    await connection.sql.begin(async (tx) => {
      await createSchemaAt(tx, O, 7);
      // An entry as version 7 wrote it: the whole record's text.
      await tx.unsafe(
        `insert into ${O}.queue (app, uuid, priority, seq, due_at, task_name, fields)
         values ($1, $2, 0, 1, now(), 'contract.add', $3)`,
        [
          app,
          uuid,
          JSON.stringify({
            task_name: "contract.add",
            priority: "0",
            args: "[5]",
            kwargs: "{}",
            status: "new",
            deliveries: "0",
            tenant: "t7",
            seq: "1",
            created_at: "1700000000.5",
            updated_at: "1700000000.5",
          }),
        ],
      );
    });
    const upgraded = new PostgresConnection({ url, schema: old });
    upgraded.acquire();
    const broker = new PostgresBroker({ name: app, connection: upgraded });
    try {
      assert.deepEqual(await upgraded.migrate(), [8]);
      const waiting = await broker.get(uuid);
      assert.equal(waiting?.status, "new");
      assert.deepEqual(waiting?.args, [5]);
      assert.equal(waiting?.extra?.tenant, "t7");
      assert.equal(waiting?.createdAt.getTime(), 1_700_000_000_500);
      // A task added in bulk now, next to it: the compact form.
      const fresh = newTask({ args: "[6]" });
      await broker.addBulk([fresh]);
      const result = await broker.exchange(exchangeRequest({ want: 5 }));
      assert.deepEqual(result.claimed.map((task) => task.uuid).sort(), [uuid, fresh.uuid].sort());
      const claimed = await broker.get(uuid);
      assert.equal(claimed?.status, "process");
      assert.equal(claimed?.extra?.tenant, "t7");
      assert.deepEqual((await broker.get(fresh.uuid))?.args, [6]);
    } finally {
      await broker.stop();
      await upgraded.release();
    }
  } finally {
    await connection.sql.unsafe(`drop schema if exists ${O} cascade`);
  }
});

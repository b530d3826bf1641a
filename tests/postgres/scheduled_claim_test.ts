/**
 * Scheduled tasks on PostgreSQL (migration 6): an entry due later stays out of the claim index
 * until it is due, so a claim does not read the tasks scheduled for later; each claim first moves
 * the due ones in. Needs PostgreSQL at QTASKS_TEST_POSTGRES_URL.
 *
 * @module
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { PostgresBroker, PostgresConnection } from "../../src/backends/postgres/mod.ts";
import { fastExchangeSql, PROMOTE_LIMIT } from "../../src/backends/postgres/_fast_exchange.ts";
import type { NewTask } from "../../src/model/messages.ts";
import { exchangeRequest, newTask } from "../contract/broker_contract.ts";
import {
  createSchemaAt,
  testPostgresUrl,
  uniqueSchema,
  withFreshBroker,
} from "../support/postgres.ts";

const url = testPostgresUrl();
const schema = uniqueSchema("sched");
const connection = new PostgresConnection({ url, schema });
connection.acquire();

after(async () => {
  await connection.sql.unsafe(`drop schema if exists "${schema}" cascade`);
  await connection.release();
});

const HOUR = 3_600_000;

/** Runs `body` with a broker of a fresh app on the file's schema, flushed and stopped after. */
function withBroker(body: (broker: PostgresBroker) => Promise<void>): Promise<void> {
  return withFreshBroker(connection, "sched", body);
}

/** `count` tasks, each due `delayMs` from now. */
function scheduled(count: number, delayMs: number): NewTask[] {
  return Array.from({ length: count }, () => newTask({ delayMs }));
}

/** The `later` flag of each queue entry of `broker`'s app, by uuid. */
async function laterFlags(broker: PostgresBroker): Promise<Map<string, boolean>> {
  const rows = await connection.sql.unsafe(
    `select uuid, later from "${schema}".queue where app = $1`,
    [broker.name],
  );
  return new Map(rows.map((row) => [row.uuid as string, row.later as boolean]));
}

test("a claim reads no entry of the tasks scheduled for later", () =>
  withBroker(async (broker) => {
    await broker.addBulk(scheduled(2_000, HOUR));
    const ready = [newTask(), newTask(), newTask()];
    await broker.addBulk(ready);
    await connection.sql.unsafe(`analyze "${schema}".queue`);
    // The claim of `qt_exchange` in a transaction of its own, then the rows it read there.
    const read = await connection.sql.begin(async (tx) => {
      const [row] = await tx.unsafe(fastExchangeSql(connection.s), [
        broker.name,
        "worker-a",
        [],
        [],
        [],
        [],
        10,
        30_000,
        ["default"],
        null,
        false,
        0,
        false,
        "qtasks_sched_test",
      ]);
      assert.deepEqual(
        row.reply.claimed.map((task: { uuid: string }) => task.uuid),
        ready.map((task) => task.uuid),
      );
      const [stats] = await tx.unsafe(
        `select seq_tup_read + coalesce(idx_tup_fetch, 0) as n
         from pg_stat_xact_user_tables where relid = '${connection.s}.queue'::regclass`,
      );
      return Number(stats.n);
    });
    assert.ok(read < 100, `the claim read ${read} queue rows; 2,000 are scheduled for later`);
  }));

test("a scheduled task stays out of the claim until due, then is claimed once", () =>
  withBroker(async (broker) => {
    const [task] = scheduled(1, 300);
    await broker.add(task);
    assert.equal((await laterFlags(broker)).get(task.uuid), true);
    const early = await broker.exchange(exchangeRequest({ want: 5 }));
    assert.deepEqual(early.claimed, []);
    assert.ok(
      early.nextDueMs !== undefined && early.nextDueMs > 0 && early.nextDueMs <= 300,
      `next due in ${early.nextDueMs} ms`,
    );
    // The broker's own due time says when to look again.
    await new Promise((resolve) => setTimeout(resolve, early.nextDueMs! + 5));
    const due = await broker.exchange(exchangeRequest({ want: 5 }));
    assert.deepEqual(due.claimed.map((claimed) => claimed.uuid), [task.uuid]);
    assert.equal((await laterFlags(broker)).size, 0);
    const again = await broker.exchange(exchangeRequest({ want: 5 }));
    assert.deepEqual(again.claimed, []);
    assert.equal(again.nextDueMs, undefined);
  }));

test("a scheduled task with a concurrency limit is claimed when due, on the general path", () =>
  withBroker(async (broker) => {
    const task = newTask({ delayMs: 200, concurrency: { slot: "one", limit: 1 } });
    await broker.add(task);
    const early = await broker.exchange(exchangeRequest({ want: 5 }));
    assert.deepEqual(early.claimed, []);
    assert.ok(early.nextDueMs !== undefined && early.nextDueMs <= 200);
    await new Promise((resolve) => setTimeout(resolve, early.nextDueMs! + 5));
    const due = await broker.exchange(exchangeRequest({ want: 5 }));
    assert.deepEqual(due.claimed.map((claimed) => claimed.uuid), [task.uuid]);
  }));

test("more due scheduled tasks than a claim moves at once are all claimed, each once", () =>
  withBroker(async (broker) => {
    const tasks = scheduled(PROMOTE_LIMIT + 150, 100);
    await broker.addBulk(tasks);
    const first = await broker.exchange(exchangeRequest({ want: 1 }));
    await new Promise((resolve) => setTimeout(resolve, (first.nextDueMs ?? 0) + 5));
    const claimed: string[] = first.claimed.map((task) => task.uuid);
    for (let call = 0; call < 5 && claimed.length < tasks.length; call++) {
      const result = await broker.exchange(exchangeRequest({ want: 700 }));
      claimed.push(...result.claimed.map((task) => task.uuid));
    }
    assert.equal(new Set(claimed).size, claimed.length, "no task claimed twice");
    assert.deepEqual(new Set(claimed), new Set(tasks.map((task) => task.uuid)));
  }));

test("a retry with a delay is scheduled, and one without is ready at once", () =>
  withBroker(async (broker) => {
    await broker.addBulk([newTask(), newTask()]);
    const [first, second] = (await broker.exchange(exchangeRequest({ want: 2 }))).claimed;
    const later = crypto.randomUUID();
    const now = crypto.randomUUID();
    const settled = await broker.exchange(exchangeRequest({
      settlements: [first, second].map((claimed, i) => ({
        uuid: claimed.uuid,
        deliveries: claimed.deliveries,
        status: "retry" as const,
        error: { type: "Error", message: "again" },
        childUuid: i === 0 ? later : now,
        delayMs: i === 0 ? HOUR : 0,
        retriesLeft: 2,
      })),
    }));
    assert.deepEqual(settled.rejected, []);
    const flags = await laterFlags(broker);
    assert.equal(flags.get(later), true);
    assert.equal(flags.get(now), false);
    const next = await broker.exchange(exchangeRequest({ want: 5 }));
    assert.deepEqual(next.claimed.map((task) => task.uuid), [now]);
  }));

test("a schema at version 5 migrates its scheduled entries out of the claim index", async () => {
  const old = uniqueSchema("sched_v5");
  const S = `"${old}"`;
  const app = "upgrade";
  try {
    // Version 5 as an older QTasks made it, with one task due now and one an hour ahead.
    await connection.sql.begin(async (tx) => {
      await createSchemaAt(tx, S, 5);
    });
    const due = crypto.randomUUID();
    const ahead = crypto.randomUUID();
    for (const [uuid, delay, seq] of [[due, 0, 1], [ahead, HOUR, 2]] as const) {
      await connection.sql.unsafe(
        `insert into ${S}.records (app, uuid, fields) values ($1, $2, jsonb_build_object(
           'task_name', 'contract.add', 'priority', '0', 'args', '[]', 'kwargs', '{}',
           'status', 'new', 'deliveries', '0', 'seq', $3::text,
           'created_at', round(extract(epoch from now())::numeric, 3)::text))`,
        [app, uuid, seq],
      );
      await connection.sql.unsafe(
        `insert into ${S}.queue (app, uuid, priority, seq, due_at, task_name)
         values ($1, $2, 0, $3, now() + $4::float8 * interval '1 millisecond', 'contract.add')`,
        [app, uuid, seq, delay],
      );
    }
    const upgraded = new PostgresConnection({ url, schema: old });
    upgraded.acquire();
    const broker = new PostgresBroker({ name: app, connection: upgraded });
    try {
      assert.deepEqual(await upgraded.migrate(), [6, 7, 8]);
      const rows = await upgraded.sql.unsafe(
        `select uuid, later from ${S}.queue where app = $1 order by seq`,
        [app],
      );
      assert.deepEqual(rows.map((row) => [row.uuid, row.later]), [[due, false], [ahead, true]]);
      const result = await broker.exchange(exchangeRequest({ want: 5 }));
      assert.deepEqual(result.claimed.map((task) => task.uuid), [due]);
      assert.ok(result.nextDueMs !== undefined && result.nextDueMs > HOUR - 60_000);
    } finally {
      await broker.stop();
      await upgraded.release();
    }
  } finally {
    await connection.sql.unsafe(`drop schema if exists ${S} cascade`);
  }
});

/**
 * The PostgreSQL backend when connections are lost (docs/postgres.md, "Faults"): a transaction
 * whose connection the server ends fails with `PG_UNREACHABLE` and the process lives on (the
 * driver no longer gets to send ROLLBACK on the dead connection), also when it closes between
 * two statements of a claim (its task stays queued and is claimed again); the pool connects again
 * within a second of a failure, not after the driver's default of up to 20 s; an enqueue still
 * waiting for its batch when its deadline passed is never stored later. Each test works in a
 * schema of its own and drops it. Needs PostgreSQL at QTASKS_TEST_POSTGRES_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres).
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BackendError } from "../../mod.ts";
import { PostgresBroker, PostgresConnection } from "../../src/backends/postgres/mod.ts";
import { testPostgresUrl, uniqueSchema } from "../support/postgres.ts";
import { componentContext, newTask } from "../contract/broker_contract.ts";
import { repoPath } from "../support/e2e_env.ts";
import { spawnRuntime } from "../support/spawn_runtime.ts";

const url = testPostgresUrl();
const LOST_TRANSACTION = repoPath("tests/postgres/fixtures/lost_transaction.ts");
const CLOSED_BETWEEN = repoPath("tests/postgres/fixtures/closed_between_statements.ts");

/** A connection on a fresh schema (created), with `body`; the schema is dropped afterwards. */
async function withConnection(
  options: { timeoutMs?: number },
  body: (connection: PostgresConnection, schema: string) => Promise<void>,
): Promise<void> {
  const schema = uniqueSchema("loss");
  const connection = new PostgresConnection({ url, schema, ...options });
  connection.acquire();
  try {
    await connection.ready();
    await body(connection, schema);
  } finally {
    try {
      await connection.sql.unsafe(`drop schema if exists "${schema}" cascade`);
    } finally {
      await connection.release();
    }
  }
}

/** The next turn of the event loop, after every immediate queued before it. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

test("a transaction whose connection the server ends fails with PG_UNREACHABLE and the process lives on", async () => {
  const child = spawnRuntime(LOST_TRANSACTION, { env: { FIXTURE_PG_URL: url, NO_COLOR: "1" } });
  try {
    const code = await child.exitCode(60_000);
    const output = `${child.stdout}${child.stderr}`;
    assert.equal(code, 0, output);
    assert.deepEqual(child.lines, [
      "REJECTED PG_UNREACHABLE",
      "REJECTED PG_UNREACHABLE",
      "REJECTED PG_UNREACHABLE",
      "ALIVE",
    ], output);
  } finally {
    await child.kill();
  }
});

test("a claim whose connection closes between two of its statements fails, keeps its task queued, and the process lives on", async () => {
  const schema = uniqueSchema("cut");
  const child = spawnRuntime(CLOSED_BETWEEN, {
    env: { FIXTURE_PG_URL: url, FIXTURE_SCHEMA: schema, NO_COLOR: "1" },
  });
  try {
    const code = await child.exitCode(60_000);
    const output = `${child.stdout}${child.stderr}`;
    assert.equal(code, 0, output);
    assert.deepEqual(child.lines, [
      "REJECTED PG_UNREACHABLE",
      "QUEUED 1",
      "LEASED 0",
      "CLAIMED-AGAIN 1 same",
      "ALIVE",
    ], output);
    // Bun prints an uncaught error and goes on: none may have been thrown.
    assert.doesNotMatch(child.stderr, /Error/, output);
  } finally {
    await child.kill();
    const cleanup = new PostgresConnection({ url, max: 1 });
    try {
      await cleanup.sql.unsafe(`drop schema if exists "${schema}" cascade`);
    } finally {
      await cleanup.sql.end({ timeout: 0 });
    }
  }
});

test("a transaction whose body fails of its own error still rolls back at once", () =>
  withConnection({}, async (connection) => {
    await connection.run(connection.sql, `create table ${connection.s}.t (n int)`);
    await assert.rejects(
      connection.transaction(async (tx) => {
        await connection.run(tx, `insert into ${connection.s}.t values (1)`);
        throw new RangeError("declined");
      }),
      RangeError,
    );
    const [row] = await connection.run(
      connection.sql,
      `select count(*)::int as n from ${connection.s}.t`,
    );
    assert.equal(row.n, 0);
  }));

test("the pool connects again within a second of a failed connection, however many failed", async () => {
  const connection = new PostgresConnection({ url });
  try {
    const backoff = connection.sql.options.backoff as (retries: number) => number;
    for (let retries = 0; retries <= 40; retries++) {
      const seconds = backoff(retries);
      assert.ok(seconds > 0 && seconds <= 1, `after ${retries} failures: ${seconds} s`);
    }
  } finally {
    await connection.sql.end({ timeout: 0 });
  }
});

test("an add still waiting for its batch when its deadline passes is never stored", () =>
  withConnection({}, async (_connection, schema) => {
    const timeoutMs = 2_000;
    const broker = new PostgresBroker({
      name: "pg-loss",
      connection: new PostgresConnection({ url, schema, timeoutMs }),
    });
    await broker.start(componentContext());
    const locker = new PostgresConnection({ url, schema, max: 1 });
    locker.acquire();
    let release!: () => void;
    const released = new Promise<void>((resolve) => release = resolve);
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => locked = resolve);
    try {
      // The queue table locked: the first add's statement waits for the lock, the second
      // add waits for the first one's batch.
      const holding = locker.transaction(async (tx) => {
        await locker.run(tx, `lock table ${locker.s}.queue in exclusive mode`);
        locked();
        await released;
      });
      await isLocked;
      const first = assert.rejects(broker.add(newTask()), BackendError);
      await nextTurn();
      const waiting = newTask();
      await assert.rejects(broker.add(waiting), BackendError);
      await first;
      release();
      await holding;
      // A later add goes after the batches before it: once it is stored, they were sent or not.
      const third = newTask();
      await broker.add(third);
      assert.ok(await broker.get(third.uuid));
      assert.equal(await broker.get(waiting.uuid), undefined);
    } finally {
      release();
      await locker.release();
      await broker.flushAll();
      await broker.stop();
    }
  }));

/**
 * The PostgreSQL broker vacuums its hot tables (`queue`, `leases`) itself: when it first claims,
 * then after every `vacuumEvery` tasks it claimed; `vacuumEvery: 0` leaves them to autovacuum.
 * Reads PostgreSQL's own count of vacuums per table. Needs PostgreSQL at
 * QTASKS_TEST_POSTGRES_URL.
 *
 * @module
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { PostgresBroker, PostgresConnection } from "../../src/backends/postgres/mod.ts";
import {
  appName,
  componentContext,
  exchangeRequest,
  newTask,
} from "../contract/broker_contract.ts";
import { testPostgresUrl, uniqueSchema } from "../support/postgres.ts";

const url = testPostgresUrl();
const connections: PostgresConnection[] = [];

after(async () => {
  for (const connection of connections) {
    await connection.sql.unsafe(`drop schema if exists ${connection.s} cascade`);
    await connection.release();
  }
});

/** A connection on a schema of its own (so its tables' vacuum counts are its own). */
function freshConnection(): PostgresConnection {
  const connection = new PostgresConnection({ url, schema: uniqueSchema("vacuum") });
  connection.acquire();
  connections.push(connection);
  return connection;
}

/** How many times `table` of the connection's schema was vacuumed by hand (not autovacuum). */
async function vacuums(connection: PostgresConnection, table: string): Promise<number> {
  const [row] = await connection.sql.unsafe(
    `select coalesce(sum(vacuum_count), 0)::int as n from pg_stat_user_tables
       where schemaname = $1 and relname = $2`,
    [connection.schema, table],
  );
  return row.n;
}

/** Starts a broker, adds and claims `count` tasks, then stops it (which awaits its vacuum). */
async function claimAndStop(
  connection: PostgresConnection,
  count: number,
  vacuumEvery?: number,
): Promise<void> {
  const broker = new PostgresBroker({ name: appName(), connection, vacuumEvery });
  await broker.start(componentContext());
  try {
    for (let i = 0; i < count; i++) await broker.add(newTask());
    const { claimed } = await broker.exchange(exchangeRequest({ want: count }));
    assert.equal(claimed.length, count);
  } finally {
    await broker.stop();
  }
}

test("a broker vacuums the queue and the leases when it first claims", async () => {
  const connection = freshConnection();
  await claimAndStop(connection, 2);
  assert.equal(await vacuums(connection, "queue"), 1);
  assert.equal(await vacuums(connection, "leases"), 1);
});

test("a broker with vacuumEvery 0 never vacuums", async () => {
  const connection = freshConnection();
  await claimAndStop(connection, 2, 0);
  assert.equal(await vacuums(connection, "queue"), 0);
  assert.equal(await vacuums(connection, "leases"), 0);
});

test("a vacuumEvery that is not a whole number of tasks is refused with a RangeError", () => {
  for (const vacuumEvery of [-1, 1.5, Number.NaN]) {
    assert.throws(
      () => new PostgresBroker({ name: appName(), url, vacuumEvery }),
      (error: unknown) => error instanceof RangeError && /vacuumEvery/.test(error.message),
    );
  }
});

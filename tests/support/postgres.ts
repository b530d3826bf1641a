/**
 * PostgreSQL helpers of the tests: the server's URL and fresh schema names (each test file
 * works in its own schema and drops it at the end).
 *
 * @module
 */
import process from "node:process";
import { PostgresBroker, type PostgresConnection } from "../../src/backends/postgres/mod.ts";
import { MIGRATIONS } from "../../src/backends/postgres/_migrations.ts";

/**
 * The PostgreSQL URL of the tests: QTASKS_TEST_POSTGRES_URL, else the local server's
 * `postgres` database.
 *
 * @returns The URL.
 */
export function testPostgresUrl(): string {
  return process.env.QTASKS_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
}

/**
 * A fresh schema name.
 *
 * @param prefix What the schema is for.
 * @returns `qt_<prefix>_` and 8 random hex digits.
 */
export function uniqueSchema(prefix: string): string {
  return `qt_${prefix}_${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Runs `body` with a broker of a fresh app (`<prefix>-` and 8 random hex digits) on
 * `connection`, then flushes the app and stops the broker, whatever `body` did.
 *
 * @param connection The test file's connection (its schema).
 * @param prefix What the app is for.
 * @param body The test.
 */
export async function withFreshBroker(
  connection: PostgresConnection,
  prefix: string,
  body: (broker: PostgresBroker) => Promise<void>,
): Promise<void> {
  const broker = new PostgresBroker({
    name: `${prefix}-${crypto.randomUUID().slice(0, 8)}`,
    connection,
  });
  try {
    await body(broker);
  } finally {
    await broker.flushAll();
    await broker.stop();
  }
}

/**
 * Creates schema `S` (quoted) as an older QTasks left it: migrations 1 to `version` applied and
 * recorded in its `qtasks_meta`, in `tx` (a transaction of the caller, which may add rows as that
 * version wrote them).
 *
 * @param tx The caller's transaction.
 * @param S The quoted schema.
 * @param version The last migration applied.
 */
export async function createSchemaAt(
  tx: { unsafe(query: string, params?: never[]): Promise<unknown> },
  S: string,
  version: number,
): Promise<void> {
  await tx.unsafe(`create schema ${S}`);
  await tx.unsafe(
    `create table ${S}.qtasks_meta (version integer primary key, applied_at timestamptz not null default now(), description text not null)`,
  );
  for (const migration of MIGRATIONS.filter((m) => m.version <= version)) {
    await tx.unsafe(migration.sql(S));
    await tx.unsafe(
      `insert into ${S}.qtasks_meta (version, description) values ($1, $2)`,
      [migration.version, migration.description] as never[],
    );
  }
}

/**
 * PostgreSQL helpers of the tests: the server's URL and fresh schema names (each test file
 * works in its own schema and drops it at the end).
 *
 * @module
 */
import process from "node:process";
import { PostgresBroker, type PostgresConnection } from "../../src/backends/postgres/mod.ts";

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

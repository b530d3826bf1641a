/**
 * PostgreSQL helpers of the tests: the server's URL and fresh schema names (each test file
 * works in its own schema and drops it at the end).
 *
 * @module
 */
import process from "node:process";

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

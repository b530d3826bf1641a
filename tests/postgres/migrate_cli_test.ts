/**
 * `qtasks migrate`: creates the schema, reports its version, and applies nothing the second time.
 * Works in a schema of its own and drops it. Needs PostgreSQL at QTASKS_TEST_POSTGRES_URL.
 *
 * @module
 */
import { MIGRATIONS } from "../../src/backends/postgres/_migrations.ts";
import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli } from "../../src/cli/main.ts";
import type { CliContext } from "../../src/cli/cli_context.ts";
import { PostgresConnection, SCHEMA_VERSION } from "../../src/backends/postgres/mod.ts";
import { testPostgresUrl, uniqueSchema } from "../support/postgres.ts";

/** Runs the CLI in this process; resolves with its exit code and output. */
async function qtasks(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const context: CliContext = {
    out: (text) => Promise.resolve(void (out += text)),
    err: (text) => Promise.resolve(void (err += text)),
    isTerminal: () => false,
    env: () => undefined,
    importModule: () => Promise.reject(new Error("no app module here")),
  };
  const code = await runCli(args, context);
  return { code, out, err };
}

test("qtasks migrate creates the schema once and reports its version", async () => {
  const schema = uniqueSchema("cli");
  const url = testPostgresUrl();
  try {
    const first = await qtasks(["migrate", "--url", url, "--schema", schema, "--json"]);
    assert.equal(first.code, 0, first.err);
    assert.deepEqual(JSON.parse(first.out), {
      schema,
      version: SCHEMA_VERSION,
      needed: SCHEMA_VERSION,
      applied: MIGRATIONS.map((migration) => migration.version),
    });
    const again = await qtasks(["migrate", "--url", url, "--schema", schema, "--json"]);
    assert.deepEqual(JSON.parse(again.out).applied, []);
    const status = await qtasks(["migrate", "--url", url, "--schema", schema, "--status"]);
    assert.equal(status.code, 0);
    assert.match(status.out, new RegExp(`schema ${schema}: version ${SCHEMA_VERSION}`));
  } finally {
    const admin = new PostgresConnection({ url, schema });
    admin.acquire();
    await admin.sql.unsafe(`drop schema if exists "${schema}" cascade`);
    await admin.release();
  }
});

test("qtasks migrate without a postgres:// URL is a usage error", async () => {
  const run = await qtasks(["migrate", "--url", "redis://127.0.0.1:6379"]);
  assert.equal(run.code, 2);
  assert.match(run.err, /migrate needs --url postgres:\/\//);
});

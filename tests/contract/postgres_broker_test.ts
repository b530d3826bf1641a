/**
 * The Broker/Storage/GlobalConfig, progress and operations contracts run against the PostgreSQL
 * backend, in a schema of their own that is dropped at the end. Needs PostgreSQL at
 * QTASKS_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 *
 * @module
 */
import assert from "node:assert/strict";
import { after } from "node:test";
import { PostgresBroker, PostgresConnection } from "../../src/backends/postgres/mod.ts";
import type { Broker } from "../../src/ports/mod.ts";
import { brokerContract } from "./broker_contract.ts";
import { progressContract } from "./progress_contract.ts";
import { operationsContract } from "./operations_contract.ts";
import { testPostgresUrl, uniqueSchema } from "../support/postgres.ts";

const url = testPostgresUrl();
const schema = uniqueSchema("contract");
const connection = new PostgresConnection({ url, schema });
connection.acquire();

after(async () => {
  await connection.sql.unsafe(`drop schema if exists "${schema}" cascade`);
  await connection.release();
});

function makePostgresBroker(name: string): Broker {
  return new PostgresBroker({ name, connection });
}

brokerContract("PostgresBroker", makePostgresBroker, {
  sharedState: true,
  corrupt: async (broker, uuid) => {
    // The record is a row of records, or the text in the task's queue entry (`_pending_sql.ts`).
    const rows = await connection.sql.unsafe(
      `with stored as (delete from "${schema}".records where app = $1 and uuid = $2 returning 1),
         pending as (update "${schema}".queue set fields = null, born = null
           where app = $1 and uuid = $2 and fields is not null returning 1)
       select * from stored union all select * from pending`,
      [broker.name, uuid],
    );
    assert.equal(rows.length, 1);
  },
});

progressContract("PostgresBroker", makePostgresBroker);

operationsContract("PostgresBroker", makePostgresBroker);

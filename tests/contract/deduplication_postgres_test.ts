/**
 * The deduplication contract, run against the PostgreSQL backend, in a schema of its own that is
 * dropped at the end; the race runs on two brokers, each with its own connection. Needs
 * PostgreSQL at QTASKS_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 *
 * @module
 */
import { after } from "node:test";
import { PostgresBroker, PostgresConnection } from "../../src/backends/postgres/mod.ts";
import { deduplicationContract } from "./deduplication_contract.ts";
import { testPostgresUrl, uniqueSchema } from "../support/postgres.ts";

const schema = uniqueSchema("dedup");
const connection = new PostgresConnection({ url: testPostgresUrl(), schema });
const second = new PostgresConnection({ url: testPostgresUrl(), schema });
connection.acquire();
second.acquire();

after(async () => {
  await connection.sql.unsafe(`drop schema if exists "${schema}" cascade`);
  await second.release();
  await connection.release();
});

deduplicationContract("PostgresBroker", (name) => new PostgresBroker({ name, connection }), {
  secondProducer: (name) => new PostgresBroker({ name, connection: second }),
});

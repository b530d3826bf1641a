/**
 * The flow-control contract, run against the PostgreSQL backend, in a schema of its own that is
 * dropped at the end. Needs PostgreSQL at QTASKS_TEST_POSTGRES_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres).
 *
 * @module
 */
import { after } from "node:test";
import { PostgresBroker, PostgresConnection } from "../../src/backends/postgres/mod.ts";
import { flowControlContract } from "./flow_control_contract.ts";
import { testPostgresUrl, uniqueSchema } from "../support/postgres.ts";

const schema = uniqueSchema("flow");
const connection = new PostgresConnection({ url: testPostgresUrl(), schema });
connection.acquire();

after(async () => {
  await connection.sql.unsafe(`drop schema if exists "${schema}" cascade`);
  await connection.release();
});

flowControlContract("PostgresBroker", (name) => new PostgresBroker({ name, connection }));

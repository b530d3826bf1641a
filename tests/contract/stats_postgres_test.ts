/**
 * The stats contract (claims, worker reports, counters) on PostgreSQL, in a schema of its own
 * that is dropped at the end. Needs PostgreSQL at QTASKS_TEST_POSTGRES_URL.
 *
 * @module
 */
import { after } from "node:test";
import { PostgresBroker, PostgresConnection } from "../../src/backends/postgres/mod.ts";
import { statsContract } from "./stats_contract.ts";
import { testPostgresUrl, uniqueSchema } from "../support/postgres.ts";

const schema = uniqueSchema("stats");
const connection = new PostgresConnection({ url: testPostgresUrl(), schema });
connection.acquire();

after(async () => {
  await connection.sql.unsafe(`drop schema if exists "${schema}" cascade`);
  await connection.release();
});

statsContract("PostgresGlobalConfig", {
  makeBroker: (name) => new PostgresBroker({ name, connection }),
  dispose: async (broker) => {
    try {
      await broker.flushAll();
    } finally {
      await broker.stop();
      await broker.storage.globalConfig?.stop();
    }
  },
});

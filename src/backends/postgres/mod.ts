/**
 * The PostgreSQL backend: {@linkcode PostgresBroker} (queue, leases, claims with
 * `FOR UPDATE SKIP LOCKED`), {@linkcode PostgresStorage} (records) and
 * {@linkcode PostgresGlobalConfig} (settings, heartbeats), sharing one
 * {@linkcode PostgresConnection} (a postgres.js pool). Tasks can be enqueued inside your own
 * transaction. `new QueueTasks({ brokerUrl: "postgres://…" })` builds these for you; import this
 * module to assemble them yourself, share your postgres.js client, or run the migrations.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { PostgresBroker } from "@qtasks/qtasks/postgres";
 *
 * const broker = new PostgresBroker({
 *   name: "assembled-pg",
 *   url: "postgres://postgres@127.0.0.1:5432/test",
 *   schema: "qtasks_docs",
 * });
 * const app = new QueueTasks({ name: "assembled-pg", broker });
 * app.task("hello", (who: string) => `hello ${who}`);
 * await app.start();
 * console.log(await (await app.addTask("hello", ["postgres"])).value()); // "hello postgres"
 * await app.flushAll();
 * await app.stop();
 * ```
 *
 * @module
 */
export {
  DEFAULT_VACUUM_EVERY,
  PostgresBroker,
  type PostgresBrokerOptions,
} from "./postgres_broker.ts";
export { PostgresStorage } from "./postgres_storage.ts";
export { PostgresGlobalConfig } from "./postgres_global_config.ts";
export type { PostgresComponentOptions } from "./postgres_global_config.ts";
export { DEFAULT_SCHEMA, PostgresConnection } from "./postgres_connection.ts";
export type {
  PostgresConnectionOptions,
  PostgresEventLine,
  PostgresSql,
  PostgresTransaction,
  Queryable,
} from "./postgres_connection.ts";
export { PostgresOperations } from "./postgres_operations.ts";
export { PostgresBackendError } from "./postgres_error.ts";
export type { PostgresErrorCode } from "./postgres_error.ts";
export { SCHEMA_VERSION } from "./schema_version.ts";

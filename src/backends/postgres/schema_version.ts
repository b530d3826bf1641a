/**
 * The version of the PostgreSQL schema this QTasks needs: the number of its last migration. A
 * schema at a lower version is migrated forward on first use (or by `qtasks migrate`); one at a
 * higher version is refused with `PG_SCHEMA_VERSION`.
 *
 * @example
 * ```ts
 * import { SCHEMA_VERSION } from "@qtasks/qtasks/postgres";
 *
 * console.log(SCHEMA_VERSION >= 1); // true
 * ```
 */
export const SCHEMA_VERSION = 8;

import { BackendError } from "../../model/errors/backend_error.ts";

/**
 * The stable codes of {@linkcode PostgresBackendError}:
 * - `PG_BAD_URL`: the URL cannot be parsed or is not `postgres://`/`postgresql://`;
 * - `PG_UNREACHABLE`: no server answers at that address;
 * - `PG_AUTH_FAILED`: the server refused the role or its password;
 * - `PG_DATABASE_MISSING`: the database does not exist;
 * - `PG_PERMISSION_DENIED`: the role may not create or use the schema or its tables;
 * - `PG_SCHEMA_VERSION`: the schema was made by another, incompatible version of QTasks;
 * - `PG_QUERY_FAILED`: any other failure of a statement.
 *
 * @example
 * ```ts
 * import type { PostgresErrorCode } from "@qtasks/qtasks/postgres";
 *
 * const code: PostgresErrorCode = "PG_DATABASE_MISSING";
 * ```
 */
export type PostgresErrorCode =
  | "PG_BAD_URL"
  | "PG_UNREACHABLE"
  | "PG_AUTH_FAILED"
  | "PG_DATABASE_MISSING"
  | "PG_PERMISSION_DENIED"
  | "PG_SCHEMA_VERSION"
  | "PG_QUERY_FAILED";

/**
 * A failure of the PostgreSQL backend, with a stable `code` (see {@linkcode PostgresErrorCode})
 * and a message that names the server by its redacted URL (never the password). It is a
 * {@linkcode BackendError}, so code that retries a `BackendError` on Redis does so here too.
 *
 * @example
 * ```ts
 * import { PostgresBackendError } from "@qtasks/qtasks/postgres";
 *
 * const error = new PostgresBackendError("PG_DATABASE_MISSING", "Cannot connect: no database");
 * console.log(error.code); // "PG_DATABASE_MISSING"
 * ```
 */
export class PostgresBackendError extends BackendError {
  /** The server's SQLSTATE, when it sent one. */
  readonly sqlState: string | undefined;

  /**
   * Creates the error.
   *
   * @param code Its stable code.
   * @param message What failed (no secret in it).
   * @param options The cause and the server's SQLSTATE.
   */
  constructor(
    code: PostgresErrorCode,
    message: string,
    options?: ErrorOptions & { sqlState?: string; sent?: boolean },
  ) {
    super(message, { ...options, code });
    this.name = "PostgresBackendError";
    this.sqlState = options?.sqlState;
  }
}

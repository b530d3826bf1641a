import postgres from "postgres";
import { redactUrl, urlSecrets } from "../../model/_redact_url.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./_migrations.ts";
import { QTasksError } from "../../model/errors/qtasks_error.ts";
import { PostgresBackendError, type PostgresErrorCode } from "./postgres_error.ts";

/**
 * A postgres.js client (`postgres(url)`) or one of its transactions (`sql.begin(tx => …)`).
 *
 * @example
 * ```ts
 * import type { PostgresSql } from "@qtasks/qtasks/postgres";
 *
 * function close(sql: PostgresSql): Promise<void> {
 *   return sql.end();
 * }
 * ```
 */
export type PostgresSql = postgres.Sql;

/**
 * A transaction of the postgres.js driver, as `sql.begin` hands it to its callback: pass it as
 * `tx` to `addTask` to enqueue inside it.
 *
 * @example
 * ```ts
 * import type { PostgresTransaction } from "@qtasks/qtasks/postgres";
 *
 * const describe = (tx: PostgresTransaction) => typeof tx.unsafe;
 * ```
 */
export type PostgresTransaction = postgres.TransactionSql;

/**
 * A client or a transaction: what runs a statement.
 *
 * @example
 * ```ts
 * import type { Queryable } from "@qtasks/qtasks/postgres";
 *
 * const count = (on: Queryable) => on.unsafe("select 1");
 * ```
 */
export type Queryable = PostgresSql | PostgresTransaction;

/**
 * One event on the backend's NOTIFY channel: `[app, uuid, rawStatus, queryStatus, taskName]`;
 * `rawStatus` is `"!wake"` for a wake-up (tasks may be claimable), `"!cancel"` for a cancel
 * request (then the fourth item is the reason), `"progress"` for a progress report, `"deleted"`
 * for a removed record, else the record's new status.
 *
 * @example
 * ```ts
 * import type { PostgresEventLine } from "@qtasks/qtasks/postgres";
 *
 * const line: PostgresEventLine = ["billing", "", "!wake", "", ""];
 * ```
 */
export type PostgresEventLine = [string, string, string, string, string];

/**
 * Options of {@linkcode PostgresConnection}.
 *
 * @example
 * ```ts
 * import type { PostgresConnectionOptions } from "@qtasks/qtasks/postgres";
 *
 * const options: PostgresConnectionOptions = { url: "postgres://postgres@127.0.0.1:5432/test" };
 * ```
 */
export interface PostgresConnectionOptions {
  /**
   * `postgres://user:password@host:port/database`, optionally with `?schema=name`; ignored when
   * `sql` is given.
   */
  url?: string;
  /** Your own postgres.js client (it is not closed on stop). */
  sql?: PostgresSql;
  /** The schema of the backend's tables (default: the URL's `schema`, else `qtasks`). */
  schema?: string;
  /** Connections in the pool (default 10); one more is used for LISTEN. */
  max?: number;
  /** Apply pending migrations on first use (default true); false: `qtasks migrate` does it. */
  migrate?: boolean;
  /**
   * How long (ms) a connection attempt, and an enqueue that finds no server, waits before it
   * fails (the app's `backendTimeoutMs`; default 10 000).
   */
  timeoutMs?: number;
}

/**
 * The schema of the backend's tables when neither the options nor the URL name one.
 *
 * @example
 * ```ts
 * import { DEFAULT_SCHEMA } from "@qtasks/qtasks/postgres";
 *
 * console.log(DEFAULT_SCHEMA); // "qtasks"
 * ```
 */
export const DEFAULT_SCHEMA = "qtasks";

/**
 * The driver's and the network's codes (and SQLSTATEs: shutdown, starting up, class 08) that mean
 * no server answers: `PG_UNREACHABLE`.
 */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "CONNECT_TIMEOUT",
  "EHOSTUNREACH",
  "ECONNRESET",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "EAI_AGAIN",
  "57P01",
  "57P02",
  "57P03",
  "EPIPE",
  "ETIMEDOUT",
  "ECONNABORTED",
]);

function isUnreachableCode(code: string): boolean {
  return UNREACHABLE_CODES.has(code) || code.startsWith("08");
}

/** Whether `error` (or its cause) is the driver's or our sign that the connection was lost. */
function isConnectionLoss(error: unknown): boolean {
  if (error instanceof PostgresBackendError) return error.code === "PG_UNREACHABLE";
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && isUnreachableCode(code);
}

/**
 * How long (ms) a transaction whose body failed of a lost connection waits for the driver's
 * `begin` to reject on its own (the connection's close) before the failure is passed on.
 */
const LOSS_GRACE_MS = 200;

/**
 * Seconds a pool connection waits after a failed one before it connects again, `retries` being
 * the pool's failures since its last good connection: 50 ms doubling up to 1 s, with jitter.
 * The driver's default grows as 3^retries / 100 up to 20 s: after an outage of a few seconds,
 * every connection of the pool then waited 10 to 20 s before its next attempt, however soon the
 * server was back, and each statement with it (enqueues past their `backendTimeoutMs`, leases
 * past their expiry).
 */
function reconnectDelay(retries: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 1);
}

/** An identifier quoted for SQL text. */
function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * One pool of connections to PostgreSQL shared by a broker, its storage and its global config:
 * runs statements (mapping failures to {@linkcode PostgresBackendError}), applies migrations
 * once under an advisory lock, and multiplexes LISTEN channels.
 *
 * @example
 * ```ts ignore
 * import { PostgresConnection } from "@qtasks/qtasks/postgres";
 *
 * const connection = new PostgresConnection({ url: "postgres://postgres@127.0.0.1:5432/test" });
 * await connection.ready();
 * await connection.release();
 * ```
 */
export class PostgresConnection {
  /** The driver's client. */
  readonly sql: PostgresSql;
  /** The schema name, as given. */
  readonly schema: string;
  /** The schema name, quoted for SQL text. */
  readonly s: string;
  /** The server, for messages: the URL with its password hidden. */
  readonly label: string;
  /** The channel of task events and wake-ups. */
  readonly channel: string;
  /** How long (ms) a connection attempt, or an enqueue that finds no server, waits. */
  readonly timeoutMs: number;
  #owned: boolean;
  #users = 0;
  #ready: Promise<void> | undefined;
  #migrate: boolean;
  #secrets: string[];
  #listeners = new Set<(payload: string) => void>();
  #listening: Promise<unknown> | undefined;
  #unlisten: (() => Promise<void>) | undefined;

  /**
   * Creates the connection (no network until the first statement).
   *
   * @param options The URL or client, the schema, the pool size.
   * @throws {PostgresBackendError} `PG_BAD_URL` for a URL that is not `postgres://`.
   */
  constructor(options: PostgresConnectionOptions = {}) {
    let url = options.sql ? undefined : options.url ?? "postgres://127.0.0.1:5432/postgres";
    this.label = url === undefined ? "the given postgres.js client" : redactUrl(url);
    this.#secrets = url === undefined ? [] : urlSecrets(url);
    let schemaInUrl: string | undefined;
    if (url !== undefined) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new PostgresBackendError(
          "PG_BAD_URL",
          `Cannot connect to ${this.label}: it is not a valid URL (postgres://user:password@host:5432/database)`,
        );
      }
      if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
        throw new PostgresBackendError(
          "PG_BAD_URL",
          `Cannot connect to ${this.label}: the scheme must be postgres:// or postgresql://`,
        );
      }
      schemaInUrl = parsed.searchParams.get("schema") ?? undefined;
      if (schemaInUrl !== undefined) {
        parsed.searchParams.delete("schema");
        url = parsed.href;
      }
    }
    this.schema = options.schema ?? schemaInUrl ?? DEFAULT_SCHEMA;
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(this.schema)) {
      throw new TypeError(
        `Cannot use schema ${
          JSON.stringify(this.schema)
        }: a schema name is a letter or _ then up to 40 letters, digits or _`,
      );
    }
    this.s = quoteIdent(this.schema);
    this.channel = `${this.schema}_events`;
    this.#migrate = options.migrate ?? true;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    if (options.sql) {
      this.sql = options.sql;
      this.#owned = false;
      return;
    }
    this.sql = postgres(url!, {
      max: options.max ?? 10,
      onnotice: () => {},
      connect_timeout: Math.max(1, Math.ceil(this.timeoutMs / 1000)),
      idle_timeout: 30,
      backoff: reconnectDelay,
    });
    this.#owned = true;
  }

  /** The server, for the app's backend label: the URL with its password hidden. */
  get redactedUrl(): string {
    return this.label;
  }

  /** Counts one more component using this connection. */
  acquire(): void {
    this.#users++;
  }

  /** Counts one component less; the last one closes the pool (when it was made here). */
  async release(): Promise<void> {
    if (this.#users > 0) this.#users--;
    if (this.#users > 0) return;
    const unlisten = this.#unlisten;
    this.#unlisten = undefined;
    this.#listening = undefined;
    this.#listeners.clear();
    if (unlisten) await unlisten().catch(() => {});
    if (this.#owned) await this.sql.end({ timeout: 5 });
    this.#ready = undefined;
  }

  /**
   * Checks the schema once (creating or migrating it when allowed); later calls share the
   * first one's outcome (a failed check is retried by the next call).
   *
   * @throws {PostgresBackendError} For a server that cannot be reached, a missing database, a
   *   role without rights, or a schema of an incompatible version.
   */
  ready(): Promise<void> {
    this.#ready ??= this.#check().catch((error) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  async #check(): Promise<void> {
    const version = await this.schemaVersion();
    if (version === SCHEMA_VERSION) return;
    if (version > SCHEMA_VERSION) {
      throw new PostgresBackendError(
        "PG_SCHEMA_VERSION",
        `Cannot use schema "${this.schema}" on ${this.label}: it is at version ${version}, made by a newer QTasks; this one knows versions up to ${SCHEMA_VERSION} (upgrade QTasks, or use another schema)`,
      );
    }
    if (!this.#migrate) {
      throw new PostgresBackendError(
        "PG_SCHEMA_VERSION",
        `Cannot use schema "${this.schema}" on ${this.label}: it is at version ${version}, this QTasks needs ${SCHEMA_VERSION}; run \`qtasks migrate\``,
      );
    }
    await this.migrate();
  }

  /**
   * The schema's version: 0 when it has no QTasks tables yet.
   *
   * @returns The version.
   */
  async schemaVersion(): Promise<number> {
    const rows = await this.run(
      this.sql,
      `select to_regclass($1) is not null as present`,
      [`${this.s}.qtasks_meta`],
    );
    if (!rows[0].present) return 0;
    const version = await this.run(
      this.sql,
      `select coalesce(max(version), 0)::int as version from ${this.s}.qtasks_meta`,
    );
    return Number(version[0].version);
  }

  /**
   * Applies the pending migrations, each in its own transaction, under an advisory lock (two
   * processes starting at once: the second waits, then finds nothing to do).
   *
   * @returns The versions applied.
   */
  async migrate(): Promise<number[]> {
    const applied: number[] = [];
    const lockKey = `qtasks:migrate:${this.schema}`;
    await this.#guard(() =>
      this.#begin(async (tx) => {
        await tx.unsafe(`select pg_advisory_xact_lock(hashtext($1))`, [lockKey]);
        await tx.unsafe(`create schema if not exists ${this.s}`);
        await tx.unsafe(
          `create table if not exists ${this.s}.qtasks_meta (version integer primary key, applied_at timestamptz not null default now(), description text not null)`,
        );
        const rows = await tx.unsafe(
          `select coalesce(max(version), 0)::int as version from ${this.s}.qtasks_meta`,
        );
        const current = Number(rows[0].version);
        if (current > SCHEMA_VERSION) {
          throw new PostgresBackendError(
            "PG_SCHEMA_VERSION",
            `Cannot migrate schema "${this.schema}" on ${this.label}: it is at version ${current}, newer than this QTasks (${SCHEMA_VERSION})`,
          );
        }
        for (const migration of MIGRATIONS) {
          if (migration.version <= current) continue;
          await tx.unsafe(migration.sql(this.s));
          await tx.unsafe(
            `insert into ${this.s}.qtasks_meta (version, description) values ($1, $2)`,
            [migration.version, migration.description],
          );
          applied.push(migration.version);
        }
      })
    );
    return applied;
  }

  /**
   * Runs one statement on `on` (the pool or a transaction), as a prepared statement.
   *
   * @param on The client or transaction.
   * @param text The SQL.
   * @param params Its parameters.
   * @returns The rows.
   */
  run(
    on: Queryable,
    text: string,
    params: unknown[] = [],
    // deno-lint-ignore no-explicit-any
  ): Promise<any[]> {
    // deno-lint-ignore no-explicit-any
    return this.#guard(() => on.unsafe(text, params as any[], { prepare: true }));
  }

  /**
   * Runs `body` in a transaction of the pool (or in `tx`, the caller's open transaction).
   *
   * @param body What to run.
   * @param tx The caller's transaction, if any.
   * @returns What `body` returns.
   */
  async transaction<T>(
    body: (tx: Queryable) => Promise<T>,
    tx?: Queryable,
  ): Promise<T> {
    if (tx !== undefined) return await body(tx);
    return await this.#guard(() => this.#begin(body));
  }

  /**
   * `sql.begin(body)`, except after a lost connection. When the connection under a transaction
   * closes, postgres.js rejects `begin` itself (through the connection's close) and the failed
   * statement rejects the body; the driver then sends ROLLBACK on that closed connection, a write
   * it schedules with `setImmediate` to a socket that is gone, which throws where no caller can
   * catch it and ends the process (porsager/postgres#1154, #1208). So a body that failed of a
   * lost connection does not settle once `begin` has rejected (nothing more is sent on that
   * connection); when `begin` is still pending {@linkcode LOSS_GRACE_MS} later (the connection
   * lives after all), the failure goes on as usual and the driver rolls back.
   *
   * The connection can also close between two statements (none in flight): `begin` rejects, and
   * the body's next statement, or the driver's COMMIT or ROLLBACK once the body settles, would go
   * to the same dead connection (the same uncaught write, or a statement run outside the
   * transaction when the pool has connected it again). So once `begin` has rejected, the body's
   * statements fail at once with `PG_UNREACHABLE` without reaching the driver, and the body's
   * outcome, whatever it is, is never handed to the driver.
   */
  async #begin<T>(body: (tx: Queryable) => Promise<T>): Promise<T> {
    let over!: () => void;
    const ended = new Promise<void>((resolve) => over = resolve);
    let lost = false;
    const never = () => new Promise<never>(() => {});
    const begun = this.sql.begin((t) =>
      body(this.#whileOpen(t, () => lost)).then(
        (value) => lost ? never() : value,
        (error) => {
          if (lost) return never();
          if (!isConnectionLoss(error)) throw error;
          return new Promise<never>((_, reject) => {
            const timer = setTimeout(() => reject(error), LOSS_GRACE_MS);
            void ended.then(() => clearTimeout(timer));
          });
        },
      )
    ) as Promise<T>;
    void begun.then(over, () => {
      lost = true;
      over();
    });
    return await begun;
  }

  /**
   * `t` (a transaction of the driver), whose statements fail with `PG_UNREACHABLE` without
   * reaching the driver once `isLost()` says its connection is gone (see `#begin`).
   */
  #whileOpen(t: PostgresTransaction, isLost: () => boolean): PostgresTransaction {
    const lostError = () =>
      new PostgresBackendError(
        "PG_UNREACHABLE",
        `PostgreSQL at ${this.label}: no server answers (the connection under the transaction closed)`,
      );
    return new Proxy(t, {
      get(target, property) {
        const value = Reflect.get(target, property);
        if (property !== "unsafe" || typeof value !== "function") return value;
        return (...args: unknown[]) =>
          isLost() ? Promise.reject(lostError()) : value.apply(target, args);
      },
      apply(target, self, args) {
        if (isLost()) return Promise.reject(lostError());
        return Reflect.apply(target as unknown as (...a: unknown[]) => unknown, self, args);
      },
    });
  }

  /**
   * Calls `listener` with each payload sent on {@linkcode PostgresConnection.channel}; resolves
   * once the LISTEN is active, with a function that stops it.
   *
   * @param listener Called per notification.
   * @returns A remover.
   */
  async listen(listener: (payload: string) => void): Promise<() => void> {
    this.#listeners.add(listener);
    this.#listening ??= this.#guard(async () => {
      const request = await this.sql.listen(this.channel, (payload) => {
        for (const each of [...this.#listeners]) each(payload);
      });
      this.#unlisten = () => request.unlisten();
    }).catch((error) => {
      this.#listening = undefined;
      throw error;
    });
    try {
      await this.#listening;
    } catch (error) {
      this.#listeners.delete(listener);
      throw error;
    }
    return () => void this.#listeners.delete(listener);
  }

  /** Runs `body`, turning a driver or server failure into a {@linkcode PostgresBackendError}. */
  async #guard<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      throw this.#translate(error);
    }
  }

  #translate(error: unknown): unknown {
    // Only the driver's and the network's errors (they carry a string code); ours pass as they are.
    if (!(error instanceof Error) || error instanceof QTasksError) return error;
    const e = error as Error & { code?: string };
    if (typeof e.code !== "string") return error;
    const state = e.code;
    let code: PostgresErrorCode = "PG_QUERY_FAILED";
    let what = "a statement failed";
    if (state === "3D000") [code, what] = ["PG_DATABASE_MISSING", "the database does not exist"];
    else if (state === "28P01" || state === "28000") {
      [code, what] = ["PG_AUTH_FAILED", "the server refused the role or its password"];
    } else if (state === "42501") {
      [code, what] = [
        "PG_PERMISSION_DENIED",
        `the role lacks a right on schema "${this.schema}" (it needs CREATE on the database, or USAGE and the table rights on an existing schema)`,
      ];
    } else if (isUnreachableCode(state)) {
      [code, what] = ["PG_UNREACHABLE", "no server answers"];
    }
    let detail = e.message;
    for (const secret of this.#secrets) detail = detail.replaceAll(secret, "***");
    return new PostgresBackendError(code, `PostgreSQL at ${this.label}: ${what} (${detail})`, {
      cause: error,
      sqlState: state,
    });
  }
}

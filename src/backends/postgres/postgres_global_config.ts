import type { ComponentContext } from "../../ports/broker.ts";
import {
  checkMinutes,
  STATS_BUCKET_MS,
  STATS_HISTORY_MS,
  STATS_MINUTE_BUCKETS,
  type ThroughputMinute,
  type WorkerInfo,
  type WorkerReport,
  type WorkerStats,
} from "../../model/worker_report.ts";
import type { GlobalConfig } from "../../ports/global_config.ts";
import { checkClaim } from "../../ports/_check_claim.ts";
import { globToRegExp } from "../../ports/_glob.ts";
import {
  PostgresConnection,
  type PostgresConnectionOptions,
  type PostgresSql,
} from "./postgres_connection.ts";

/**
 * Options of the PostgreSQL components: the app name and where to connect (a shared
 * {@linkcode PostgresConnection}, your postgres.js client `sql`, or a `url`), and the schema.
 *
 * @example
 * ```ts
 * import type { PostgresComponentOptions } from "@qtasks/qtasks/postgres";
 *
 * const options: PostgresComponentOptions = {
 *   name: "billing",
 *   url: "postgres://postgres@127.0.0.1:5432/test",
 *   schema: "qtasks",
 * };
 * ```
 */
export interface PostgresComponentOptions {
  /** The app name (default `QueueTasks`). */
  name?: string;
  /** A connection shared with other components. */
  connection?: PostgresConnection;
  /** Your postgres.js client (not closed on stop). */
  sql?: PostgresSql;
  /** `postgres://user:password@host:5432/database`. */
  url?: string;
  /** The schema of the tables (default `qtasks`). */
  schema?: string;
  /** Further connection options (pool size, automatic migration). */
  postgres?: Omit<PostgresConnectionOptions, "url" | "sql" | "schema">;
}

/**
 * {@linkcode GlobalConfig} on PostgreSQL: settings in `<schema>.config`, the heartbeat in
 * `<schema>.heartbeats`, claims, worker records and counters, all timed by the server's clock.
 *
 * @example
 * ```ts ignore
 * import { PostgresGlobalConfig } from "@qtasks/qtasks/postgres";
 *
 * const config = new PostgresGlobalConfig({ name: "demo", url: "postgres://postgres@127.0.0.1:5432/test" });
 * await config.set("limits", "email", "100");
 * ```
 */
export class PostgresGlobalConfig implements GlobalConfig {
  /** The app name. */
  readonly name: string;
  /** The shared connection. */
  readonly connection: PostgresConnection;
  #instance = crypto.randomUUID();
  #timer: ReturnType<typeof setInterval> | undefined;
  #ttlMs = 20_000;
  #holds = true;
  #heartbeatListeners = new Set<() => void>();

  /**
   * Makes the connection of a component's options.
   *
   * @param options The component's options.
   * @returns The given connection, or a new one.
   */
  static connect(options: PostgresComponentOptions): PostgresConnection {
    return options.connection ??
      new PostgresConnection({
        ...options.postgres,
        url: options.url,
        sql: options.sql,
        schema: options.schema,
      });
  }

  /**
   * Creates a PostgresGlobalConfig.
   *
   * @param options The app name and where to connect.
   */
  constructor(options: PostgresComponentOptions = {}) {
    this.name = options.name ?? "QueueTasks";
    this.connection = PostgresGlobalConfig.connect(options);
    this.connection.acquire();
  }

  /** Writes the heartbeat, then refreshes it on a timer. */
  async start(context: ComponentContext): Promise<void> {
    if (!this.#holds) {
      this.connection.acquire();
      this.#holds = true;
    }
    const { config, logger } = context;
    this.#ttlMs = config.globalConfigStatusTtlMs;
    await this.#beat();
    clearInterval(this.#timer);
    this.#timer = setInterval(() => {
      this.#beat().then(() => {
        for (const listener of [...this.#heartbeatListeners]) listener();
      }).catch((error) =>
        logger.warn(`GlobalConfig heartbeat failed: ${(error as Error).message}`)
      );
    }, config.globalConfigStatusSetPeriodicMs);
  }

  /** Calls `listener` after each refresh of the heartbeat. */
  watchHeartbeats(listener: () => void): () => void {
    this.#heartbeatListeners.add(listener);
    return () => void this.#heartbeatListeners.delete(listener);
  }

  /** Stops the heartbeat and removes it. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      await this.#q(
        `delete from ${this.connection.s}.heartbeats where app = $1 and instance = $2`,
        [this.name, this.#instance],
      ).catch(() => []);
    }
    if (this.#holds) {
      this.#holds = false;
      await this.connection.release();
    }
  }

  // deno-lint-ignore no-explicit-any
  async #q(text: string, params: unknown[]): Promise<any[]> {
    await this.connection.ready();
    return await this.connection.run(this.connection.sql, text, params);
  }

  async #beat(): Promise<void> {
    const S = this.connection.s;
    await this.#q(
      `with gone as (delete from ${S}.heartbeats where app = $1 and expires_at <= clock_timestamp())
       insert into ${S}.heartbeats (app, instance, expires_at)
       values ($1, $2, clock_timestamp() + $3::float8 * interval '1 millisecond')
       on conflict (app, instance) do update set expires_at = excluded.expires_at`,
      [this.name, this.#instance, this.#ttlMs],
    );
  }

  /** Stores a value. */
  async set(name: string, key: string, value: string): Promise<void> {
    await this.#q(
      `insert into ${this.connection.s}.config (app, grp, key, value) values ($1, $2, $3, $4)
       on conflict (app, grp, key) do update set value = excluded.value`,
      [this.name, name, key, String(value)],
    );
  }

  /** Reads a value. */
  async get(name: string, key: string): Promise<string | undefined> {
    const rows = await this.#q(
      `select value from ${this.connection.s}.config where app = $1 and grp = $2 and key = $3`,
      [this.name, name, key],
    );
    return rows.length === 0 ? undefined : rows[0].value;
  }

  /** Reads a group. */
  async getAll(name: string): Promise<Record<string, string>> {
    const rows = await this.#q(
      `select key, value from ${this.connection.s}.config where app = $1 and grp = $2`,
      [this.name, name],
    );
    return Object.fromEntries(rows.map((row) => [row.key, row.value]));
  }

  /** Reads the keys of a group that match a glob (see {@linkcode GlobalConfig.getMatch}). */
  async getMatch(name: string, pattern: string): Promise<Record<string, string>> {
    const matcher = globToRegExp(pattern);
    const all = await this.getAll(name);
    return Object.fromEntries(Object.entries(all).filter(([key]) => matcher.test(key)));
  }

  /** Whether a started app has a live heartbeat. */
  async isRunning(): Promise<boolean> {
    const rows = await this.#q(
      `select 1 from ${this.connection.s}.heartbeats where app = $1 and expires_at > clock_timestamp() limit 1`,
      [this.name],
    );
    return rows.length > 0;
  }

  /** Claims `key` for `ttlMs` (see {@linkcode GlobalConfig.claimOnce}). */
  async claimOnce(
    key: string,
    ttlMs: number,
    record?: { name: string; key: string; value: string },
  ): Promise<boolean> {
    checkClaim(key, ttlMs);
    await this.connection.ready();
    const S = this.connection.s;
    return await this.connection.transaction(async (tx) => {
      const rows = await this.connection.run(
        tx,
        `insert into ${S}.claims as c (app, key, expires_at)
         values ($1, $2, clock_timestamp() + $3::float8 * interval '1 millisecond')
         on conflict (app, key) do update set expires_at = excluded.expires_at
           where c.expires_at <= clock_timestamp()
         returning 1`,
        [this.name, key, ttlMs],
      );
      if (rows.length === 0) return false;
      if (record) {
        await this.connection.run(
          tx,
          `insert into ${S}.config (app, grp, key, value) values ($1, $2, $3, $4)
           on conflict (app, grp, key) do update set value = excluded.value`,
          [this.name, record.name, record.key, String(record.value)],
        );
      }
      await this.connection.run(
        tx,
        `delete from ${S}.claims where ctid = any(array(select ctid from ${S}.claims
           where app = $1 and expires_at <= clock_timestamp() limit 100))`,
        [this.name],
      );
      return true;
    });
  }

  /** Records a worker's report (see {@linkcode GlobalConfig.reportWorker}). */
  async reportWorker(report: WorkerReport): Promise<void> {
    await this.connection.ready();
    const S = this.connection.s;
    const { processed, failed } = report;
    await this.connection.transaction(async (tx) => {
      if (processed > 0 || failed > 0) {
        await this.connection.run(
          tx,
          `insert into ${S}.counters (app, bucket, processed, failed)
           values ($1, -1, $2, $3),
             ($1, (floor(extract(epoch from clock_timestamp()) * 1000 / $4::float8) * $4::float8)::bigint, $2::bigint, $3::bigint)
           on conflict (app, bucket) do update set processed = counters.processed + excluded.processed,
             failed = counters.failed + excluded.failed`,
          [this.name, processed, failed, STATS_BUCKET_MS],
        );
        await this.connection.run(
          tx,
          `delete from ${S}.counters where app = $1 and bucket >= 0
             and bucket < extract(epoch from clock_timestamp()) * 1000 - $2::bigint`,
          [this.name, STATS_HISTORY_MS],
        );
      }
      if (report.stopped) {
        await this.connection.run(
          tx,
          `delete from ${S}.workers where app = $1 and worker_id = $2`,
          [this.name, report.workerId],
        );
        return;
      }
      const info = {
        workerId: report.workerId,
        host: report.host,
        pid: report.pid,
        runtime: report.runtime,
        concurrency: report.concurrency,
        startedAt: report.startedAt,
        active: report.active,
        processed,
        failed,
      };
      await this.connection.run(
        tx,
        `insert into ${S}.workers as w (app, worker_id, info, expires_at)
         values ($1, $2, $3::text::jsonb || jsonb_build_object('seenAt',
           floor(extract(epoch from clock_timestamp()) * 1000)),
           clock_timestamp() + $4::float8 * interval '1 millisecond')
         on conflict (app, worker_id) do update set
           info = excluded.info || jsonb_build_object(
             'processed', (w.info->>'processed')::bigint + $5::bigint,
             'failed', (w.info->>'failed')::bigint + $6::bigint),
           expires_at = excluded.expires_at`,
        [this.name, report.workerId, JSON.stringify(info), report.ttlMs, processed, failed],
      );
    });
  }

  /**
   * Tasks finished per minute of server time, oldest first, summed from the workers' 10 s
   * counters (kept for an hour; see {@linkcode GlobalConfig.readThroughput}).
   */
  async readThroughput(minutes: number): Promise<ThroughputMinute[]> {
    const count = checkMinutes(minutes);
    const S = this.connection.s;
    const rows = await this.#q(
      `with clock as (select (floor(extract(epoch from clock_timestamp()) * 1000 / 60000) * 60000)::bigint as minute)
       select (select minute from clock)::float8 as current, (bucket / 60000 * 60000)::float8 as at,
         sum(processed)::float8 as processed, sum(failed)::float8 as failed
       from ${S}.counters
       where app = $1 and bucket >= (select minute from clock) - ($2::bigint - 1) * 60000
       group by bucket / 60000
       union all select minute::float8, null, null, null from clock`,
      [this.name, count],
    );
    const current = Number(rows.find((row) => row.at === null).current);
    const byMinute = new Map<number, { processed: number; failed: number }>();
    for (const row of rows) {
      if (row.at !== null) {
        byMinute.set(Number(row.at), {
          processed: Number(row.processed),
          failed: Number(row.failed),
        });
      }
    }
    const points: ThroughputMinute[] = [];
    for (let m = count - 1; m >= 0; m--) {
      const at = current - m * 60_000;
      points.push({ at, ...(byMinute.get(at) ?? { processed: 0, failed: 0 }) });
    }
    return points;
  }

  /** Reads the live workers and the counters (see {@linkcode GlobalConfig.readWorkerStats}). */
  async readWorkerStats(): Promise<WorkerStats> {
    const S = this.connection.s;
    const [row] = await this.#q(
      `select (extract(epoch from clock_timestamp()) * 1000)::float8 as now,
         (select coalesce(jsonb_agg(info order by (info->>'startedAt')::float8), '[]')
          from ${S}.workers where app = $1 and expires_at > clock_timestamp()) as workers,
         (select jsonb_build_object('p', processed, 'f', failed) from ${S}.counters
          where app = $1 and bucket = -1) as totals,
         (select jsonb_build_object('p', coalesce(sum(processed), 0), 'f', coalesce(sum(failed), 0))
          from ${S}.counters where app = $1 and bucket >
            (floor(extract(epoch from clock_timestamp()) * 1000 / $2::float8) * $2::float8) - $3::float8 * $2::float8) as minute`,
      [this.name, STATS_BUCKET_MS, STATS_MINUTE_BUCKETS],
    );
    await this.#q(
      `delete from ${S}.workers where app = $1 and expires_at <= clock_timestamp()`,
      [this.name],
    );
    const now = Math.floor(Number(row.now));
    const workers: WorkerInfo[] = (row.workers as Array<Record<string, unknown>>).map((w) => ({
      workerId: String(w.workerId),
      host: String(w.host),
      pid: Number(w.pid),
      runtime: String(w.runtime),
      concurrency: Number(w.concurrency),
      startedAt: Number(w.startedAt),
      seenAt: Number(w.seenAt),
      active: Number(w.active),
      processed: Number(w.processed),
      failed: Number(w.failed),
    }));
    return {
      now,
      workers,
      processed: Number(row.totals?.p ?? 0),
      failed: Number(row.totals?.f ?? 0),
      lastMinute: { processed: Number(row.minute.p), failed: Number(row.minute.f) },
    };
  }
}

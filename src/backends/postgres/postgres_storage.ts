import type { ComponentContext } from "../../ports/broker.ts";
import type { GlobalConfig } from "../../ports/global_config.ts";
import { decodeTaskRecord, type TaskFields } from "../../model/task_codec.ts";
import type { TaskRecord } from "../../model/task_record.ts";
import { checkGetAllLimit } from "../../ports/_record_order.ts";
import type { GetAllOptions, Storage, WaitForStatusOptions } from "../../ports/storage.ts";
import { waitForRecord } from "../../ports/wait_for_record.ts";
import type { PostgresConnection, PostgresEventLine, Queryable } from "./postgres_connection.ts";
import { decodeEvents } from "./_pg_step.ts";
import { type PostgresComponentOptions, PostgresGlobalConfig } from "./postgres_global_config.ts";

/**
 * {@linkcode Storage} on PostgreSQL: task records in `<schema>.records` (their fields as JSONB),
 * finished ones deleted after their retention by the workers' exchanges. `waitForStatus` is
 * woken by NOTIFY (no polling).
 *
 * @example
 * ```ts ignore
 * import { PostgresGlobalConfig, PostgresStorage } from "@qtasks/qtasks/postgres";
 *
 * const url = "postgres://postgres@127.0.0.1:5432/test";
 * const storage = new PostgresStorage({ name: "demo", globalConfig: new PostgresGlobalConfig({ name: "demo", url }) });
 * ```
 */
export class PostgresStorage implements Storage {
  /** The app name. */
  readonly name: string;
  /** Settings and heartbeat, if any. */
  readonly globalConfig: GlobalConfig | undefined;
  /** The shared connection. */
  readonly connection: PostgresConnection;
  #holds = true;
  #listeners = new Set<(line: PostgresEventLine) => void>();
  #unlisten: Promise<() => void> | undefined;

  /**
   * Creates a PostgresStorage.
   *
   * @param options `name`, `globalConfig`, and `connection`, `sql` or `url` (default: the
   *   global config's connection).
   */
  constructor(options: PostgresComponentOptions & { globalConfig?: GlobalConfig } = {}) {
    this.name = options.name ?? options.globalConfig?.name ?? "QueueTasks";
    this.globalConfig = options.globalConfig;
    this.connection = options.connection ??
      (!options.url && !options.sql && options.globalConfig instanceof PostgresGlobalConfig
        ? options.globalConfig.connection
        : PostgresGlobalConfig.connect(options));
    this.connection.acquire();
  }

  /** Checks the schema, then starts the GlobalConfig. */
  async start(context: ComponentContext): Promise<void> {
    if (!this.#holds) {
      this.connection.acquire();
      this.#holds = true;
    }
    await this.connection.ready();
    await this.globalConfig?.start(context);
  }

  /** Stops listening, then the GlobalConfig. */
  async stop(): Promise<void> {
    const unlisten = this.#unlisten;
    this.#unlisten = undefined;
    this.#listeners.clear();
    if (unlisten) (await unlisten.catch(() => () => {}))();
    await this.globalConfig?.stop();
    if (this.#holds) {
      this.#holds = false;
      await this.connection.release();
    }
  }

  /**
   * Backend use: calls `listener` with each event line of this app; resolves once listening.
   *
   * @returns A remover.
   */
  async onEvent(listener: (line: PostgresEventLine) => void): Promise<() => void> {
    this.#listeners.add(listener);
    this.#unlisten ??= this.connection.listen((payload) => {
      for (const line of decodeEvents(payload)) {
        if (line[0] !== this.name) continue;
        for (const each of [...this.#listeners]) each(line);
      }
    });
    try {
      await this.#unlisten;
    } catch (error) {
      this.#listeners.delete(listener);
      this.#unlisten = undefined;
      throw error;
    }
    return () => void this.#listeners.delete(listener);
  }

  /** Reads one record. */
  async get(uuid: string): Promise<TaskRecord | undefined> {
    await this.connection.ready();
    const rows = await this.connection.run(
      this.connection.sql,
      `select fields from ${this.connection.s}.tasks where app = $1 and uuid = $2 and (expires_at is null or expires_at > clock_timestamp())`,
      [this.name, uuid],
    );
    return rows.length === 0 ? undefined : decodeTaskRecord(uuid, rows[0].fields as TaskFields);
  }

  /** Reads every record, oldest first (at most `limit`, default 1000: the oldest ones). */
  async getAll(options: GetAllOptions = {}): Promise<TaskRecord[]> {
    const limit = checkGetAllLimit(options.limit);
    await this.connection.ready();
    const rows = await this.connection.run(
      this.connection.sql,
      `select uuid, fields from ${this.connection.s}.tasks where app = $1 and (expires_at is null or expires_at > clock_timestamp())
       order by (fields->>'created_at')::float8, seq limit $2`,
      [this.name, limit],
    );
    const records: TaskRecord[] = [];
    for (const row of rows) {
      const record = decodeTaskRecord(row.uuid, row.fields as TaskFields);
      if (record) records.push(record);
    }
    return records;
  }

  /** Waits for a status, woken by NOTIFY on every change of the record. */
  waitForStatus(uuid: string, options: WaitForStatusOptions): Promise<TaskRecord | undefined> {
    return waitForRecord(options, {
      read: () => this.get(uuid),
      watch: (onChange) => this.watchRecord(uuid, onChange),
    });
  }

  /** Calls `onChange` whenever the record of `uuid` may have changed (from any process). */
  watchRecord(uuid: string, onChange: (status?: string) => void): Promise<() => void> {
    return this.onEvent((line) => {
      if (line[1] !== uuid) return;
      if (line[2] === "!cancel") return;
      onChange(line[2] === "deleted" ? undefined : line[2]);
    });
  }

  /**
   * Backend use: deletes up to `limit` records whose retention ended.
   *
   * @returns How many.
   */
  async sweep(on: Queryable, limit: number): Promise<number> {
    const S = this.connection.s;
    const rows = await this.connection.run(
      on,
      `delete from ${S}.records where ctid = any(array(
         select ctid from ${S}.records where expires_at <= clock_timestamp()
         limit $1 for update skip locked))
       returning 1`,
      [limit],
    );
    return rows.length;
  }

  /** Deletes the records of finished tasks (every record with a retention). */
  async deleteFinished(): Promise<number> {
    await this.connection.ready();
    const rows = await this.connection.run(
      this.connection.sql,
      `delete from ${this.connection.s}.records where app = $1 and expires_at is not null returning 1`,
      [this.name],
    );
    return rows.length;
  }

  /** Deletes every record of this app. */
  async flushAll(): Promise<void> {
    await this.connection.ready();
    await this.connection.run(
      this.connection.sql,
      `delete from ${this.connection.s}.records where app = $1`,
      [this.name],
    );
  }
}

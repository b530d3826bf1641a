import { OPERATOR_RETRY_DROPPED_FIELDS } from "../../model/_attempt_fields.ts";
import { decodeTaskRecord, type TaskFields, toUnixSeconds } from "../../model/task_codec.ts";
import type { TaskRecord } from "../../model/task_record.ts";
import { DuplicateTaskError } from "../../model/errors/duplicate_task_error.ts";
import { TaskStateError } from "../../model/errors/task_state_error.ts";
import {
  checkTaskQuery,
  encodeCursor,
  type QueryStatus,
  queryStatusOf,
  type TaskCounts,
  type TaskEvent,
  type TaskPage,
  type TaskQuery,
  zeroCounts,
} from "../../model/task_query.ts";
import { decodeLogs } from "../../model/_task_log.ts";
import {
  checkCleanOptions,
  checkDrainOptions,
  checkFindPrefix,
  checkRetryAllFilter,
  checkTaskNameArg,
  checkUuid,
  pausedStateOf,
} from "../../ports/_operations_checks.ts";
import type {
  CleanOptions,
  DrainOptions,
  PausedState,
  QueueOperations,
  RetryAllFilter,
  SubscribeOptions,
  TaskLogLine,
} from "../../ports/queue_operations.ts";
import { PgStep } from "./_pg_step.ts";
import { CLAIMING_SQL, pendingTextSql } from "./_pending_sql.ts";
import type { PostgresStorage } from "./postgres_storage.ts";
import { newTaskUuid } from "../../model/task_uuid.ts";

/** Fields an operator's retry does not copy. */
const DROPPED_ON_RETRY: ReadonlySet<string> = new Set(OPERATOR_RETRY_DROPPED_FIELDS);

/** Records per transaction of a bulk operation (each chunk is atomic). */
const CHUNK = 500;

/**
 * The SQL condition selecting the records of a query status (`$now`: the server's time, ms).
 */
function statusCondition(status: QueryStatus, now: string): string {
  switch (status) {
    case "queued":
      return `status = 'new' and (run_at is null or run_at * 1000 <= ${now})`;
    case "scheduled":
      return `status = 'new' and run_at * 1000 > ${now}`;
    case "running":
      return `status = 'process'`;
    default:
      return `status = '${status}'`;
  }
}

/**
 * The SQL of a page of {@linkcode PostgresOperations.list}: the newest rows of the view `tasks`
 * matching `where` (its columns), at most `$2`. The view's two parts are read apart, each through
 * its own index on `seq` (`records_seq`, and `queue_pending` for the records pending in their
 * queue entries), then merged: through the view, the planner cannot order its second part by an
 * index (a member of a `union all` with a `where` is not flattened), so a page read and sorted
 * every pending entry, building each one's record text. Measured (issue 20, 100,000 tasks added in
 * bulk, a page of 50 from the client): 153 ms through the view, 1.2 ms apart. The pending part
 * gives the columns the view's second part gives (`compactPendingSql`, migration 8): a change of
 * one is a change of the other.
 */
function listSql(S: string, where: string): string {
  const page = `${where} and status is not null order by seq desc limit $2`;
  return `select uuid, seq, fields from (
       (select uuid, seq, fields from ${S}.records where ${page})
       union all
       (select uuid, seq, fields from (
          select q.app, q.uuid, q.seq, 'new'::text as status, q.task_name,
            extract(epoch from q.due_at)::float8 as run_at, null::float8 as finished_at,
            null::timestamptz as expires_at, (${pendingTextSql("q")})::jsonb as fields
          from ${S}.queue q where q.fields is not null) pending
        where ${page})) page
     order by seq desc limit $2`;
}

/** A record is alive: not past its retention. */
const ALIVE = `(expires_at is null or expires_at > clock_timestamp())`;

/** The server's time in ms, as SQL. */
const NOW_MS = `(extract(epoch from clock_timestamp()) * 1000)`;

/**
 * The PostgreSQL {@linkcode QueueOperations} (`PostgresBroker.operations`): queries read the view
 * `tasks` (the records, and the records still pending in their queue entries: see
 * `_pending_sql.ts`) through its columns (status, task name, seq, finish time); changes run in
 * transactions that lock the records they change.
 *
 * @example
 * ```ts ignore
 * import { PostgresBroker } from "@qtasks/qtasks/postgres";
 *
 * const broker = new PostgresBroker({ name: "ops", url: "postgres://postgres@127.0.0.1:5432/test" });
 * const page = await broker.operations.list({ status: "error" });
 * ```
 */
export class PostgresOperations implements QueueOperations {
  readonly #storage: PostgresStorage;

  /**
   * Creates the operations of a PostgreSQL broker.
   *
   * @param storage The broker's storage.
   */
  constructor(storage: PostgresStorage) {
    this.#storage = storage;
  }

  get #c() {
    return this.#storage.connection;
  }

  get #app(): string {
    return this.#storage.name;
  }

  // deno-lint-ignore no-explicit-any
  async #q(text: string, params: unknown[]): Promise<any[]> {
    await this.#c.ready();
    return await this.#c.run(this.#c.sql, text, params);
  }

  async #step<T>(body: (step: PgStep) => Promise<T>): Promise<T> {
    await this.#c.ready();
    return await this.#c.transaction(async (tx) => {
      const step = await PgStep.begin(tx, this.#c, this.#app);
      const result = await body(step);
      await step.flush();
      return result;
    });
  }

  /** One page of records, newest first. */
  async list(query?: TaskQuery): Promise<TaskPage> {
    const checked = checkTaskQuery(query);
    const conditions = [`app = $1`, ALIVE];
    const params: unknown[] = [this.#app, checked.limit + 1];
    if (checked.before !== Infinity) {
      params.push(checked.before);
      conditions.push(`seq < $${params.length}::bigint`);
    }
    if (checked.status) conditions.push(statusCondition(checked.status, NOW_MS));
    if (checked.taskName) {
      params.push(checked.taskName);
      conditions.push(`task_name = $${params.length}`);
    }
    const rows = await this.#q(listSql(this.#c.s, conditions.join(" and ")), params);
    const records: TaskRecord[] = [];
    for (const row of rows.slice(0, checked.limit)) {
      const record = decodeTaskRecord(row.uuid, row.fields as TaskFields);
      if (record) records.push(record);
    }
    const page: TaskPage = { records };
    if (rows.length > checked.limit) {
      page.cursor = encodeCursor(Number(rows[checked.limit - 1].seq));
    }
    return page;
  }

  /** The records whose uuid starts with `prefix`, in uuid order. */
  async find(prefix: string, limit = 10): Promise<TaskRecord[]> {
    checkFindPrefix(prefix, limit);
    const rows = await this.#q(
      `select uuid, fields from ${this.#c.s}.tasks where app = $1 and ${ALIVE}
         and starts_with(uuid, $2)
       order by uuid collate "C" limit $3`,
      [this.#app, prefix, limit],
    );
    const records: TaskRecord[] = [];
    for (const row of rows) {
      const record = decodeTaskRecord(row.uuid, row.fields as TaskFields);
      if (record) records.push(record);
    }
    return records;
  }

  /** Counts per status and task name, and what is paused. */
  async counts(): Promise<TaskCounts> {
    const rows = await this.#q(
      `select task_name, status, run_at * 1000 > ${NOW_MS} as later, count(*)::int as n
       from ${this.#c.s}.tasks where app = $1 and ${ALIVE} group by 1, 2, 3`,
      [this.#app],
    );
    const byStatus = zeroCounts();
    const byTaskName: TaskCounts["byTaskName"] = {};
    for (const row of rows) {
      const status = queryStatusOf(row.status ?? undefined, row.later ? "Infinity" : undefined, 0);
      if (!status) continue;
      byStatus[status] += row.n;
      const name = row.task_name ?? "";
      (byTaskName[name] ??= zeroCounts())[status] += row.n;
    }
    const sorted: TaskCounts["byTaskName"] = {};
    for (const name of Object.keys(byTaskName).sort()) sorted[name] = byTaskName[name];
    return { byStatus, byTaskName: sorted, paused: await this.paused() };
  }

  /** Retries a failed or cancelled task as a new attempt. */
  async retry(uuid: string, childUuid: string = newTaskUuid()): Promise<string | undefined> {
    checkUuid("retry", uuid);
    checkUuid("retry", childUuid);
    return await this.#step((step) => this.#retry(step, uuid, childUuid, true));
  }

  async #retry(
    step: PgStep,
    uuid: string,
    child: string,
    strict: boolean,
  ): Promise<string | undefined> {
    const parent = await step.fields(uuid);
    if (!parent) return undefined;
    if ((parent.status !== "error" && parent.status !== "cancel") || parent.flow_kind) {
      if (!strict) return undefined;
      const status = queryStatusOf(parent.status, parent.run_at, step.nowMs) ?? "unknown";
      throw new TaskStateError("retry", uuid, status);
    }
    const stamp = toUnixSeconds(step.nowMs);
    const copy: TaskFields = {};
    for (const [field, value] of Object.entries(parent)) {
      if (!DROPPED_ON_RETRY.has(field)) copy[field] = value;
    }
    const seq = await step.insert(child, {
      ...copy,
      status: "new",
      created_at: stamp,
      updated_at: stamp,
      deliveries: "0",
      retry_parent_uuid: uuid,
      attempt: String((Number(parent.attempt) || 1) + 1),
    });
    if (seq === undefined) throw new DuplicateTaskError("(retry)", child);
    await step.write(uuid, { status: "retry", retry_child_uuid: child, updated_at: stamp });
    await step.enqueue({
      uuid: child,
      priority: Number(parent.priority) || 0,
      seq,
      taskName: parent.task_name ?? "",
    }, 0);
    return child;
  }

  /** Retries every matching failed task, newest first, in atomic chunks. */
  async retryAll(filter: RetryAllFilter = {}): Promise<number> {
    const checked = checkRetryAllFilter(filter);
    let count = 0;
    let before = Number.MAX_SAFE_INTEGER;
    while (count < checked.limit) {
      const params: unknown[] = [
        this.#app,
        checked.statuses,
        before,
        Math.min(CHUNK, checked.limit - count),
      ];
      let extra = "";
      if (checked.taskName) {
        params.push(checked.taskName);
        extra += ` and task_name = $${params.length}`;
      }
      if (checked.sinceMs !== undefined) {
        params.push(checked.sinceMs);
        extra += ` and finished_at * 1000 >= $${params.length}::float8`;
      }
      const rows = await this.#q(
        `select uuid, seq from ${this.#c.s}.records where app = $1 and ${ALIVE}
           and status = any($2::text[]) and seq < $3::bigint and fields->>'flow_kind' is null${extra}
         order by seq desc limit $4`,
        params,
      );
      if (rows.length === 0) break;
      before = Number(rows[rows.length - 1].seq);
      count += await this.#step(async (step) => {
        let done = 0;
        for (const row of rows) {
          if (await this.#retry(step, row.uuid, newTaskUuid(), false)) done++;
        }
        return done;
      });
    }
    return count;
  }

  /** Deletes a queued, scheduled or finished task. */
  async delete(uuid: string): Promise<boolean> {
    checkUuid("delete", uuid);
    return await this.#step(async (step) => {
      const fields = await step.fields(uuid);
      if (!fields) return false;
      if (fields.status === "process") throw new TaskStateError("delete", uuid, "running");
      await step.remove(uuid, fields.task_name ?? "");
      return true;
    });
  }

  /**
   * Deletes records matching `where` in atomic chunks, each sending `deleted` events; with
   * `pending` (a condition on queue entries), the entries whose record is pending in them that
   * match it too (see `_pending_sql.ts`).
   */
  async #deleteWhere(
    where: string,
    params: unknown[],
    limit: number,
    pending?: string,
  ): Promise<number> {
    let count = 0;
    while (count < limit) {
      const n = Math.min(CHUNK, limit - count);
      const deleted = await this.#step(async (step) => {
        const S = this.#c.s;
        // Deleting a pending entry deletes its record: this transaction says it means to.
        if (pending !== undefined) await step.run(`select ${CLAIMING_SQL}`);
        const rows = await step.run(
          `with gone as (
             delete from ${S}.records where ctid = any(array(
               select ctid from ${S}.records where app = $1 and ${ALIVE} and ${where}
               limit ${n} for update skip locked))
             returning uuid, task_name)
           , q as (delete from ${S}.queue where app = $1 and uuid in (select uuid from gone))${
            pending === undefined ? "" : `
           , waiting as (
             delete from ${S}.queue where ctid = any(array(
               select ctid from ${S}.queue where app = $1 and fields is not null and ${pending}
               limit ${n} for update skip locked))
             returning uuid, task_name)`
          }
           select uuid, task_name from gone${
            pending === undefined ? "" : " union all select uuid, task_name from waiting"
          }`,
          params,
        );
        for (const row of rows) {
          step.events.push([this.#app, row.uuid, "deleted", "deleted", row.task_name ?? ""]);
        }
        return rows.length;
      });
      count += deleted;
      if (deleted < n) break;
    }
    return count;
  }

  /** Deletes finished records by status, task name and age. */
  async clean(options: CleanOptions): Promise<number> {
    const checked = checkCleanOptions(options);
    const params: unknown[] = [this.#app, checked.status, checked.olderThanMs];
    let where = `status = $2 and finished_at * 1000 <= ${NOW_MS} - $3::float8`;
    if (checked.taskName) {
      params.push(checked.taskName);
      where += ` and task_name = $${params.length}`;
    }
    return await this.#deleteWhere(where, params, checked.limit);
  }

  /** Deletes every queued and scheduled task. */
  async drain(options: DrainOptions = {}): Promise<number> {
    const checked = checkDrainOptions(options);
    const params: unknown[] = [this.#app];
    let where = `status = 'new'`;
    let pending = "true";
    if (checked.taskName) {
      params.push(checked.taskName);
      where += ` and task_name = $${params.length}`;
      pending = `task_name = $${params.length}`;
    }
    return await this.#deleteWhere(where, params, Infinity, pending);
  }

  /** Pauses the app or a task name. */
  async pause(taskName?: string): Promise<void> {
    checkTaskNameArg("pause", taskName);
    await this.#q(
      `insert into ${this.#c.s}.paused (app, name) values ($1, $2) on conflict do nothing`,
      [this.#app, taskName ?? "*"],
    );
  }

  /** Resumes the app or a task name; wakes the workers. */
  async resume(taskName?: string): Promise<void> {
    checkTaskNameArg("resume", taskName);
    await this.#step(async (step) => {
      await step.run(`delete from ${this.#c.s}.paused where app = $1 and name = $2`, [
        this.#app,
        taskName ?? "*",
      ]);
      step.wake();
    });
  }

  /** What is paused. */
  async paused(): Promise<PausedState> {
    const rows = await this.#q(
      `select name from ${this.#c.s}.paused where app = $1 order by name`,
      [this.#app],
    );
    const names: string[] = rows.map((row) => row.name);
    return pausedStateOf(names);
  }

  /** Calls `listener` on every status change and progress report, from any process. */
  async subscribe(
    listener: (event: TaskEvent) => void,
    options: SubscribeOptions = {},
  ): Promise<() => void> {
    const names = options.taskNames ? new Set(options.taskNames) : undefined;
    await this.#c.ready();
    return await this.#storage.onEvent((line) => {
      const [, uuid, raw, status, taskName] = line;
      if (raw.startsWith("!")) return;
      if (names && !names.has(taskName)) return;
      listener({ uuid, taskName, status: status as TaskEvent["status"], at: new Date() });
    });
  }

  /** A task's log lines. */
  async logs(uuid: string): Promise<TaskLogLine[] | undefined> {
    checkUuid("read the logs of", uuid);
    const rows = await this.#q(
      `select fields->>'logs' as logs, fields->>'logs_dropped' as dropped
       from ${this.#c.s}.tasks where app = $1 and uuid = $2 and ${ALIVE}`,
      [this.#app, uuid],
    );
    if (rows.length === 0) return undefined;
    return decodeLogs(rows[0].logs ?? undefined, rows[0].dropped ?? undefined);
  }
}

/**
 * Pending records (schema versions 7 and 8): the record of a task added in bulk lives in its queue
 * entry until the task is first claimed, and only then gets its row in `records`. Since version 8
 * the entry keeps only what its columns do not hold (`queue.fields`, the compact fields as JSON
 * text, and `queue.born`, its time of birth; {@linkcode pendingTextSql} builds the record's text
 * from both); an entry written by version 7 keeps the whole text. Measured (issue 20, a batch of 1,000 in one Deno process against
 * graphile-worker's `addJobs` on a private PostgreSQL 15): the record's row, its two index entries
 * and the parse of its JSON into JSONB were about 40% of the bulk statement's time in the server;
 * written at the claim, the row is written once (a claim used to write the record's second
 * version). The invariant: a task's record is either a row of `records` or, while the task waits
 * and was never claimed, the `fields` of its queue entry, never both.
 *
 * - Readers see both through the view `tasks` (the records, then the pending ones as `new`, their
 *   `run_at` the entry's due time), which the operations and the storage read.
 * - A claim inserts the record of a pending entry it takes, with the claim's fields
 *   ({@linkcode claimRecordsSql}); any other change of a waiting task first moves its record out
 *   of the entry ({@linkcode materializeSql}: the entry keeps waiting, with `fields` null).
 * - Deleting a pending entry otherwise loses its record, so the trigger `queue_pending_guard`
 *   refuses that (SQLSTATE `QTX02`) unless the transaction says it knows (the setting
 *   `qtasks.claiming`, set by the claims and by `drain`). An older QTasks running while the schema
 *   is migrated does not know pending entries: its claims of them fail, and the task stays queued
 *   for a newer worker, instead of being dropped.
 *
 * @module
 */

/**
 * The SQL expression of the stamp of the timestamptz expression `at`: unix seconds with three
 * decimals, as text (as the records keep `created_at`, `run_at` and the others).
 */
export function stampSql(at: string): string {
  return `round(extract(epoch from ${at})::numeric, 3)::text`;
}

/** The SQL expressions a record's JSON text is built of (see {@linkcode recordTextSql}). */
export interface RecordParts {
  /** The compact fields: a JSON object's text, without the fields below (never `{}`). */
  fields: string;
  /** The task name (text). */
  taskName: string;
  /** The priority (an integer). */
  priority: string;
  /** The seq (a bigint). */
  seq: string;
  /** The stamp of its creation (text, see {@linkcode stampSql}). */
  stamp: string;
}

/**
 * The SQL expression of a new record's JSON text: the compact fields (a pending entry's
 * `fields` since schema 8, or a bulk enqueue's column) with the fields every new record has in
 * front: `task_name`, `priority`, `status` (`new`), `deliveries` (`0`), `seq`, `created_at` and
 * `updated_at`. Its entry's columns hold them already, so a pending entry does not repeat them:
 * about 130 bytes less per task written (and logged) at enqueue, and no text to build per task.
 *
 * @param p The parts.
 * @returns The SQL expression (text).
 */
export function recordTextSql(p: RecordParts): string {
  return `'{"task_name":' || to_json(${p.taskName}::text)::text || ',"priority":"' || ${p.priority}
      || '","status":"new","deliveries":"0","seq":"' || ${p.seq} || '","created_at":"' || ${p.stamp}
      || '","updated_at":"' || ${p.stamp} || '",' || substr(${p.fields}, 2)`;
}

/**
 * The SQL expression of the record's JSON text of the queue entry `q` (a row alias), `null` when
 * the entry has no record in it: since schema 8 the entry keeps the compact fields and its time of
 * birth (`born`), and the rest comes from its columns ({@linkcode recordTextSql}); an entry
 * written by schema 7 (`born` null) holds the whole text.
 *
 * @param q The alias of a `queue` row.
 * @returns The SQL expression (text).
 */
export function pendingTextSql(q: string): string {
  return `case when ${q}.born is null then ${q}.fields else ${
    recordTextSql({
      fields: `${q}.fields`,
      taskName: `${q}.task_name`,
      priority: `${q}.priority`,
      seq: `${q}.seq`,
      stamp: stampSql(`${q}.born`),
    })
  } end`;
}

/** The transaction-local setting that lets a statement delete pending entries. */
const CLAIMING_SETTING = "qtasks.claiming";

/** The SQLSTATE of the guard's refusal. */
export const PENDING_GUARD_STATE = "QTX02";

/** The SQL expression that lets the rest of the transaction delete pending entries. */
export const CLAIMING_SQL = `set_config('${CLAIMING_SETTING}', 'on', true)`;

/** The statements of migration 7 but `qt_exchange` (`S`: the quoted schema). */
export function pendingRecordsSql(S: string): string {
  return `
alter table ${S}.queue add column fields text;
create index queue_pending on ${S}.queue (app, seq) where fields is not null;
create view ${S}.tasks as
  select app, uuid, fields, expires_at, seq, status, task_name, run_at, finished_at
  from ${S}.records
  union all
  select app, uuid, fields::jsonb, null::timestamptz, seq, 'new'::text, task_name,
    extract(epoch from due_at)::float8, null::float8
  from ${S}.queue where fields is not null;
create function ${S}.qt_pending_guard() returns trigger language plpgsql as $fn$
begin
  raise exception 'Cannot delete the queue entry of task %: its record is in the entry (QTasks schema 7); this process runs an older QTasks, upgrade it', old.uuid
    using errcode = '${PENDING_GUARD_STATE}';
end
$fn$;
create trigger queue_pending_guard before delete on ${S}.queue for each row
  when (old.fields is not null
    and current_setting('${CLAIMING_SETTING}', true) is distinct from 'on')
  execute function ${S}.qt_pending_guard();
`;
}

/**
 * The statements of migration 8 but `qt_exchange`: the column `queue.born`, and the view `tasks`
 * reading the compact entries (`S`: the quoted schema).
 */
export function compactPendingSql(S: string): string {
  return `
alter table ${S}.queue add column born timestamptz;
create or replace view ${S}.tasks as
  select app, uuid, fields, expires_at, seq, status, task_name, run_at, finished_at
  from ${S}.records
  union all
  select q.app, q.uuid, (${pendingTextSql("q")})::jsonb, null::timestamptz, q.seq, 'new'::text,
    q.task_name, extract(epoch from q.due_at)::float8, null::float8
  from ${S}.queue q where q.fields is not null;
`;
}

/** The SQL expressions a claim's record patch is built of. */
export interface ClaimExpressions {
  /** The app. */
  app: string;
  /** The claiming worker's id. */
  worker: string;
  /** The claim's stamp (unix seconds as text). */
  stamp: string;
  /** The claim's time (a timestamptz). */
  now: string;
  /** The picked entries: a `from` list whose alias `p` has `uuid` and `fields`. */
  from: string;
  /** Which of them are claimed (the others keep status `new`). */
  where: string;
}

/**
 * The CTEs `born` (records of the picked pending entries, inserted), `changed` (records of the
 * others, updated) and `updated` (`uuid`, `fields` of each record claimed), for a claim's picked
 * entries. A pending entry whose uuid has a record (a duplicate that raced its add) gets none and
 * is not claimed: the caller counts it as dropped.
 *
 * @param S The quoted schema.
 * @param e The claim's expressions.
 * @returns The CTEs, comma-separated.
 */
export function claimRecordsSql(S: string, e: ClaimExpressions): string {
  const patch = (deliveries: string) =>
    `jsonb_build_object('status', 'process', 'worker_id', ${e.worker}::text,
             'deliveries', ${deliveries}, 'started_at', ${e.stamp}::text,
             'updated_at', ${e.stamp}::text)`;
  return `born as (
         insert into ${S}.records (app, uuid, fields)
         select ${e.app}, p.uuid,
           case when ${e.where} then p.fields::jsonb || ${patch("'1'")} else p.fields::jsonb end
         from ${e.from} where p.fields is not null
         on conflict (app, uuid) do nothing
         returning uuid, fields),
       changed as (
         update ${S}.records r set fields = r.fields || ${
    patch("(coalesce((r.fields->>'deliveries')::int, 0) + 1)::text")
  }
         from ${e.from}
         where r.app = ${e.app} and r.uuid = p.uuid and p.fields is null and r.status = 'new'
           and ${e.where} and (r.expires_at is null or r.expires_at > ${e.now})
         returning r.uuid, r.fields),
       updated as (
         select uuid, fields from born where fields->>'status' = 'process'
         union all
         select uuid, fields from changed)`;
}

/**
 * Moves the record of task `$2` of app `$1` out of its pending queue entry into `records` (the
 * entry keeps waiting); returns its fields, or no row when the entry has no record in it.
 *
 * @param S The quoted schema.
 * @returns The SQL.
 */
export function materializeSql(S: string): string {
  // RETURNING gives the row as updated: the record is read (and locked) before.
  return `with m as (
       select ${pendingTextSql("q")} as fields from ${S}.queue q
       where q.app = $1 and q.uuid = $2 and q.fields is not null for update),
     cleared as (
       update ${S}.queue q set fields = null from m where q.app = $1 and q.uuid = $2)
     insert into ${S}.records (app, uuid, fields)
     select $1, $2, m.fields::jsonb from m
     on conflict (app, uuid) do nothing
     returning fields`;
}

/**
 * The enqueue statements of the PostgreSQL broker (`postgres_broker.ts`): a task's record and its
 * queue entry, written by one statement for a whole batch. Measured (issue 20, callgrind of the
 * server): the costs per task were the JSON parses (the record's fields were parsed once for the
 * record and three more times for the rate-limit columns), building the record with `jsonb ||`
 * (four JSONB values per row, each merge copying the record again), the stamps' numeric
 * arithmetic per row, the sorts of the joins, the `ON CONFLICT` check, the escaping of the fields
 * in a `text[]` parameter, and the index entries themselves. So:
 *
 * - the columns come as arrays, one per column, and the record's fields as one text parameter,
 *   the JSON objects one per line (JSON text never holds a raw newline), split on the server:
 *   nothing to escape on either side; an optional column that no task of the batch uses is an
 *   empty array (`unnest` pads it with nulls);
 * - the uuids and the priorities, too, come as one text each, joined with commas and split on the
 *   server (`string_to_array`): a `text[]` or `int[]` parameter costs the driver an escape check
 *   per element and the server a parse of the array literal, 0.6 ms and 0.2 ms per batch of 1,000
 *   against nothing measurable for the joined text (issue 20, round trips timed with one
 *   parameter each);
 * - the client sends a task's compact fields only (`args`, `kwargs`, extra fields, flow, headers);
 *   the server puts the fields every new record has in front (`task_name`, `priority`, `status`,
 *   `deliveries`, `seq`, the stamps: `recordTextSql` in `_pending_sql.ts`) and appends `run_at`
 *   and `expires_at` when the task has them, before the text's one parse; the stamp is computed
 *   once per statement;
 * - the seq is taken once per task, in the batch's order, and both inserts read it from the
 *   input: no join, no sort;
 * - {@linkcode insertFreshSql} (a bulk enqueue without the caller's transaction) writes only the
 *   queue entries, each holding its compact fields and its time of birth until the task's first
 *   claim (schemas 7 and 8, `_pending_sql.ts`), and has no `ON CONFLICT`: a uuid that has a record
 *   or a queue entry makes it store nothing, and the broker does the batch again with
 *   {@linkcode insertTasksSql}, which replaces an expired record of the same uuid and skips a live
 *   one (the duplicate). Its events are sent by the same statement: one round trip, and no
 *   transaction for a batch of one statement. Whether a record has a uuid of the batch is one
 *   index probe of the batch's range of uuids, and one probe per task only when a record falls in
 *   that range: the app's uuids ascend and share their first digits (they start with the time),
 *   so that range rarely holds another task's record. Measured (issue 20, `EXPLAIN ANALYZE`, 1,000
 *   tasks): 0.21 ms, against 0.88 ms for a probe per task; 0.14 ms of it finds the range's ends.
 *
 * The record is the same either way: the same fields with the same values (stamps in unix seconds
 * with three decimals, `seq` as text), the same queue columns.
 *
 * @module
 */
import type { NewTask } from "../../model/messages.ts";
import { DEFAULT_QUEUE } from "../../model/queue_name.ts";
import { isReservedField, type TaskFields } from "../../model/task_codec.ts";
import { encodeHeaders } from "../../model/task_headers.ts";
import { notifyPayloadsSql } from "./_pg_step.ts";
import { recordTextSql, stampSql } from "./_pending_sql.ts";

/** Joins the uuids and the priorities of a batch (`$2`, `$4`); the SQL splits them again. */
const JOIN = ",";

/** The parameters `$2`…`$13` of the enqueue statements, for a batch of tasks. */
export interface TaskColumns {
  /** The parameters, in order (`$2`…`$13`). */
  params: unknown[];
  /** Per task, its delay in ms (0: none). */
  delays: number[];
}

/**
 * Whether `task` has none of the optional parts of a record (extra fields, a flow, headers, a
 * named queue, a concurrency or rate limit, a deduplication id): its fields are then the six every
 * task has, and {@linkcode taskColumns} writes their JSON directly.
 */
function isPlain(task: NewTask): boolean {
  for (const _ in task.extra) return false;
  return task.flow === undefined && task.headers === undefined &&
    (task.queue === undefined || task.queue === DEFAULT_QUEUE) &&
    task.concurrency === undefined && task.rateLimit === undefined &&
    task.deduplication === undefined;
}

/**
 * Refuses a uuid holding a comma: the app checks every uuid (a UUID), and a broker called directly
 * gets the same refusal rather than a comma that would split one uuid in two.
 */
function checkJoinable(task: NewTask): void {
  if (task.uuid.includes(JOIN)) {
    throw new TypeError(
      `Cannot add task "${task.taskName}": uuid must be a UUID, got ${task.uuid}`,
    );
  }
}

/** Matches a record's `rate_limit` field (`"<limit> <durationMs> <slot>"`), as the SQL does. */
const RATE_SPEC = /^([0-9]+) ([0-9]+) ([\s\S]*)$/;

/**
 * The columns of `tasks` as the enqueue statements take them: `$2` uuids (one text, comma-joined),
 * `$3` the record fields (JSON objects, one per line), `$4` priorities (one text, comma-joined),
 * `$5` task names (just one when all are equal), then, each an empty array when no task of the
 * batch needs it, `$6` delays (ms), `$7` queue names, `$8` deadlines (ms from now), `$9`–`$10`
 * concurrency slot and limit, `$11`–`$13` rate-limit slot, limit and window.
 *
 * @param tasks The batch.
 * @returns The parameters, and each task's delay.
 */
export function taskColumns(tasks: readonly NewTask[]): TaskColumns {
  const count = tasks.length;
  const uuids = new Array<string>(count);
  const fields = new Array<string>(count);
  const priorities = new Array<number>(count);
  const names = new Array<string>(count);
  const delays = new Array<number>(count);
  const queues = new Array<string>(count);
  const deadlines = new Array<number>(count);
  const concSlots = new Array<string | null>(count);
  const concLimits = new Array<number | null>(count);
  const rateSlots = new Array<string | null>(count);
  const rateLimits = new Array<string | null>(count);
  const rateMs = new Array<string | null>(count);
  let delayed = false, queued = false, expiring = false, limited = false, rated = false;
  let oneName = true;
  for (let i = 0; i < count; i++) {
    const task = tasks[i];
    checkJoinable(task);
    rateSlots[i] = rateLimits[i] = rateMs[i] = null;
    if (isPlain(task)) {
      // The common task: its fields' JSON written directly, in the order (and so the text) the
      // general path below gives JSON.stringify.
      fields[i] = `{"args":${JSON.stringify(task.args)},"kwargs":${JSON.stringify(task.kwargs)}}`;
    } else {
      const each: TaskFields = {};
      for (const [field, value] of Object.entries(task.extra)) {
        if (!isReservedField(field)) each[field] = String(value);
      }
      each.args = task.args;
      each.kwargs = task.kwargs;
      if (task.flow !== undefined) each.flow = task.flow;
      const headers = encodeHeaders(task.headers);
      if (headers !== undefined) each.headers = headers;
      // Flow control, as on the other backends: the record's `queue`, `conc_slot` and
      // `conc_limit` fields (and `expires_at`, on the server's clock).
      if (task.queue !== undefined && task.queue !== DEFAULT_QUEUE) {
        each.queue = task.queue;
        queued = true;
      }
      if (task.concurrency !== undefined) {
        each.conc_slot = task.concurrency.slot;
        each.conc_limit = String(task.concurrency.limit);
        limited = true;
      }
      if (task.rateLimit !== undefined) {
        const { limit, durationMs, slot } = task.rateLimit;
        const spec = `${limit} ${durationMs} ${slot}`;
        each.rate_limit = spec;
        // The queue's columns, read from the field as `rateColumnsSql` reads a record's.
        const match = RATE_SPEC.exec(spec);
        if (match !== null) {
          rateLimits[i] = match[1];
          rateMs[i] = match[2];
          rateSlots[i] = match[3];
          rated = true;
        }
      }
      if (task.deduplication !== undefined) each.dedup_id = task.deduplication.id;
      fields[i] = JSON.stringify(each);
    }
    uuids[i] = task.uuid;
    priorities[i] = task.priority;
    names[i] = task.taskName;
    if (oneName && i > 0 && task.taskName !== names[0]) oneName = false;
    delays[i] = task.delayMs !== undefined && task.delayMs > 0 ? Math.ceil(task.delayMs) : 0;
    if (delays[i] > 0) delayed = true;
    queues[i] = task.queue ?? DEFAULT_QUEUE;
    deadlines[i] = task.expiresInMs !== undefined && task.expiresInMs > 0
      ? Math.ceil(task.expiresInMs)
      : 0;
    if (deadlines[i] > 0) expiring = true;
    concSlots[i] = task.concurrency?.slot ?? null;
    concLimits[i] = task.concurrency?.limit ?? null;
  }
  return {
    params: [
      uuids.join(JOIN),
      fields.join("\n"),
      priorities.join(JOIN),
      // One name for a batch of one task name (`addTasks`): 1,000 equal elements of a `text[]`
      // cost the driver an escape each and the server their parse; unnest pads the column with
      // nulls, which the SQL reads as the first name.
      oneName && count > 0 ? [names[0]] : names,
      delayed ? delays : [],
      queued ? queues : [],
      expiring ? deadlines : [],
      limited ? concSlots : [],
      limited ? concLimits : [],
      rated ? rateSlots : [],
      rated ? rateLimits : [],
      rated ? rateMs : [],
    ],
    delays,
  };
}

/**
 * The CTEs `clock` (the statement's time, `now()`, and its stamp) and
 * `input` (one row per task, its seq taken in the batch's order), and the expressions of the
 * record and queue rows. `S` is the schema.
 */
function parts(
  S: string,
  stored: string,
  pending = false,
): { head: string; record: string; queue: string } {
  const later = (ms: string) => `k.t + ${ms} * interval '1 millisecond'`;
  const head = `clock as (select now() as t, ${stampSql("now()")} as st),
       input as (
         select t.uuid, t.fields, t.priority, coalesce(t.task_name, ($5::text[])[1]) as task_name,
           t.delay, t.qname, t.expires, t.conc_slot, t.conc_limit, t.rate_slot, t.rate_limit,
           t.rate_ms, t.n, nextval('${S}.seq') as seq
         from unnest(string_to_array($2::text, '${JOIN}'), string_to_array($3::text, E'\\n'),
             string_to_array($4::text, '${JOIN}')::int[], $5::text[],
             $6::float8[], $7::text[], $8::float8[], $9::text[], $10::int[], $11::text[],
             $12::text[], $13::text[])
           with ordinality as t(uuid, fields, priority, task_name, delay, qname, expires,
             conc_slot, conc_limit, rate_slot, rate_limit, rate_ms, n))`;
  // The compact fields, kept in a pending queue entry: the client's, with the task's time to run
  // and deadline (on the statement's clock) when it has them.
  const compact = `(case when i.delay > 0 or i.expires > 0 then left(i.fields, -1)
             || case when i.delay > 0
               then ',"run_at":"' || ${stampSql(later("i.delay"))} || '"' else '' end
             || case when i.expires > 0
               then ',"expires_at":"' || ${stampSql(later("i.expires"))} || '"' else '' end
             || '}' else i.fields end)`;
  // The record's JSON text, parsed into `records`.
  const text = `(${
    recordTextSql({
      fields: compact,
      taskName: "i.task_name",
      priority: "i.priority",
      seq: "i.seq",
      stamp: "k.st",
    })
  })`;
  // A pending batch stores nothing when a uuid of it has a record (see insertFreshSql).
  const fresh = pending ? "\n         where not exists (select 1 from taken)" : "";
  // A uuid whose record waits in its queue entry (added in bulk) is a duplicate too.
  const record = `insert into ${S}.records as r (app, uuid, fields)
         select $1, i.uuid, ${text}::jsonb
         from input i cross join clock k
         where not exists (select 1 from ${S}.queue q
           where q.app = $1 and q.uuid = i.uuid and q.fields is not null)`;
  const queue = `insert into ${S}.queue (app, uuid, priority, seq, due_at, later, task_name,
           qname, deadline, conc_slot, conc_limit, rate_slot, rate_limit, rate_ms${
    pending ? ", fields, born" : ""
  })
         select $1, i.uuid, i.priority, i.seq, ${later("coalesce(i.delay, 0)")},
           coalesce(i.delay > 0, false), i.task_name,
           coalesce(i.qname, '${DEFAULT_QUEUE}'),
           case when i.expires > 0 then ${later("i.expires")} end, i.conc_slot, i.conc_limit,
           i.rate_slot, i.rate_limit::bigint, i.rate_ms::bigint${pending ? `, ${compact}, k.t` : ""}
         from input i cross join clock k${stored}${fresh}`;
  return { head, record, queue };
}

/**
 * Stores the records and queue entries of a batch ({@linkcode taskColumns}: `$2`…`$13`, app
 * `$1`), a uuid whose live record exists skipped (an expired one is replaced); returns one row
 * per task stored (`uuid`, `delay`, `task_name`). With `notify`, each stored task also sends its
 * event and the workers' wake-up (channel `$14`).
 *
 * @param S The quoted schema.
 * @param notify Whether the statement sends the events.
 * @returns The SQL.
 */
export function insertTasksSql(S: string, notify: boolean): string {
  const { head, record, queue } = parts(
    S,
    "\n         where i.uuid in (select uuid from stored)",
  );
  const notifyColumn = notify
    ? `, pg_notify($14, json_build_array($1::text, i.uuid, 'new',
           case when i.delay > 0 then 'scheduled' else 'queued' end, i.task_name)::text
           || E'\\n' || json_build_array($1::text, '', '!wake', '', '')::text) as sent`
    : "";
  return `with ${head},
       stored as (
         ${record}
         on conflict (app, uuid) do update set fields = excluded.fields, expires_at = null
           where r.expires_at is not null and r.expires_at <= clock_timestamp()
         returning r.uuid),
       queued as (
         ${queue})
       select i.uuid, i.delay, i.task_name${notifyColumn}
       from input i where i.uuid in (select uuid from stored)`;
}

/**
 * Queues a batch ({@linkcode taskColumns}: `$2`…`$13`, app `$1`) of tasks that must all be new,
 * each record pending in its queue entry (see `_pending_sql.ts`), and sends the notifications
 * `$15` (an `encodeEvents` text) on channel `$14`, in one statement. Returns one row: `taken`,
 * true when a uuid of the batch has a record (live or expired): then nothing is stored or sent. A
 * uuid that has a queue entry fails the statement with SQLSTATE 23505 (`unique_violation`), and
 * nothing is stored or sent either.
 *
 * @param S The quoted schema.
 * @returns The SQL.
 */
export function insertFreshSql(S: string): string {
  const { head, queue } = parts(S, "", true);
  // Whether a uuid of the batch has a record: first one probe of the batch's range of uuids (the
  // app's ascend and share their first digits, so another task's record rarely falls between
  // them), then, only when some record does, one probe per uuid. The range is taken on the
  // server, in the column's collation. The case keeps that order: as two exists joined by and,
  // the planner ran the probe per uuid first (an init plan, evaluated once).
  return `with ${head},
       bounds as (
         select min(u) as lo, max(u) as hi from unnest(string_to_array($2::text, '${JOIN}')) as u),
       taken as (
         select 1 from bounds b
         where case when exists (select 1 from ${S}.records r
             where r.app = $1 and r.uuid >= b.lo and r.uuid <= b.hi)
           then exists (select 1 from unnest(string_to_array($2::text, '${JOIN}')) as u(uuid)
             cross join lateral (
               select 1 from ${S}.records r where r.app = $1 and r.uuid = u.uuid limit 1) r)
           else false end),
       queued as (
         ${queue}),
       sent as (
         ${notifyPayloadsSql("$14", "$15")} where not exists (select 1 from taken))
       select exists (select 1 from taken) as taken, (select count(*) from sent)::int as sent`;
}

/**
 * The fast path of a PostgreSQL exchange: one call of the server-side function
 * `<schema>.qt_exchange` (installed by migration 4) settles the plain results, claims, reads the
 * queue's state, sweeps expired records and sends the events, in one statement: one round trip
 * and one transaction, where the general path (`PostgresBroker`'s `#exchange`, a transaction of
 * several statements) takes about seven. It covers the common exchange only; whatever it does
 * not cover it leaves to the general path, which keeps every guarantee:
 *
 * - a settlement other than a plain `success`, `error` or `cancel` (a retry, a release), one
 *   this worker no longer holds, one of a chain or group, or one that holds a concurrency slot;
 *   an expired lease waiting for recovery; a quarantined entry while the worker claims: the
 *   function changes nothing and answers `fallback`, and the general path does the whole
 *   exchange;
 * - a rate-limited slot whose window has room again (its parked tasks go back to their queues on
 *   the general path): the function changes nothing and answers `fallback`;
 * - a claim that meets a task with a deadline that has passed, a concurrency limit or a rate
 *   limit: the
 *   function stops claiming there (what it settled and claimed before stays) and answers
 *   `rest`, and the general path claims the rest in a second transaction.
 *
 * A claim-only call (no settlement) commits with `synchronous_commit = off`: it is visible at
 * once, and a server crash can lose only its last fraction of a second (the WAL flushed by the
 * next synchronous commit of any session, or within 3 × `wal_writer_delay`), which leaves the
 * task queued, as if it had not been claimed: the worker's settlement of it is then refused as
 * for a lost lease, and the task runs again (at least once, as after any crash). Enqueues and
 * settlements stay synchronous: a stored task or result is never lost.
 *
 * @module
 */
import { SWEEP_GRACE_MS } from "./_rate_limit_sql.ts";
import {
  CLAIMING_SQL,
  claimRecordsSql,
  compactPendingSql,
  pendingRecordsSql,
  pendingTextSql,
} from "./_pending_sql.ts";

/** The version of the migration that installs `qt_exchange`. */
export const FAST_EXCHANGE_VERSION = 4;

/** Bytes of one notification's payload, at most (as `encodeEvents` in `_pg_step.ts`). */
const PAYLOAD_LIMIT = 7_000;

/**
 * Migration 4: the function `<schema>.qt_exchange`. Its parameters, in order:
 *
 * | #  | name             | what                                                            |
 * | -: | ---------------- | --------------------------------------------------------------- |
 * |  1 | p_app            | the app                                                         |
 * |  2 | p_worker         | the worker (owner of the leases)                                |
 * |  3 | s_uuid           | plain settlements: uuids (text[])                               |
 * |  4 | s_deliveries     | their deliveries (int[])                                        |
 * |  5 | s_patch          | their fields to merge, JSON text without the stamps (text[])    |
 * |  6 | s_ttl            | their retention in ms (float8[])                                |
 * |  7 | p_want           | tasks to claim at most                                          |
 * |  8 | p_lease_ms       | the lease of a claimed task, ms                                 |
 * |  9 | p_queues         | the named queues to claim from, in order (text[])               |
 * | 10 | p_task_names     | the task names the worker knows (text[], null: all)             |
 * | 11 | p_recover        | whether to look for expired leases (recoverLimit > 0)           |
 * | 12 | p_sweep          | expired records to delete at most (0: none)                     |
 * | 13 | p_unpark         | the once-a-second call: report parked tasks (the general path    |
 * |    |                  | unparks them), sweep old rate-log rows and deduplication keys    |
 * | 14 | p_channel        | the NOTIFY channel                                              |
 *
 * It returns JSON: `fallback` (true: nothing done), or `now` (the server's clock, ms),
 * `claimed` (`uuid`, `priority`, `due` in ms, `fields` of each claimed task, in order),
 * `dropped` (entries without a claimable record), `rest` (claims left to the general path),
 * `quarantined`, `next_due` (ms, or null), `swept`, `parked` and `rate_due` (when a rate-limited
 * slot's window has room next, ms, or null).
 */
export const FAST_EXCHANGE_MIGRATION: {
  version: number;
  description: string;
  sql: (schema: string) => string;
} = {
  version: FAST_EXCHANGE_VERSION,
  description: "qt_exchange: settle, claim and notify in one call",
  sql: (S) => exchangeFunctionSql(S, 4),
};

/**
 * Migration 5: `qt_exchange` looks for tasks left waiting (the `!wake` event for the other
 * workers) only when its claims filled what the worker asked for, or left the rest to the general
 * path. A claim that left room took every task it could (a row another worker had locked is
 * being claimed by that worker), so nothing is left for the others, and the query would only walk
 * the head of the claim index, where the entries of tasks already claimed wait for vacuum: one
 * scan of dead entries less per call (measured on a queue that had just run about 20,000 tasks: 203
 * pages read per call by the state query, 178 of them for this one). The queue's and the leases'
 * autovacuum no longer waits for a fifth of the table to be dead (`autovacuum_vacuum_scale_factor`
 * 0, threshold 1,000 rows): both tables are small and every task leaves a dead row in each, which
 * the claims walk until a vacuum removes them.
 */
export const LEAN_EXCHANGE_MIGRATION: {
  version: number;
  description: string;
  sql: (schema: string) => string;
} = {
  version: 5,
  description: "qt_exchange looks for waiting tasks only when its claims filled; eager autovacuum",
  sql: (S) =>
    `${exchangeFunctionSql(S, 5)}
alter table ${S}.queue set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
alter table ${S}.leases set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
`,
};

/**
 * Migration 6: a scheduled task (due later than when it was queued or moved) is kept out of the
 * claim index until it is due, so a claim no longer walks the tasks scheduled for later. Before,
 * the claim index held every entry and its due time was checked row by row: with 50,000 tasks
 * scheduled for an hour ahead and 1,000 due, each claim read the 50,000 rows before it found one
 * (30 ms per claim, measured). Now:
 *
 * - `queue.later` is true for an entry that is scheduled; the claim index (`queue_claim`) holds
 *   only entries that are neither parked nor `later`, and the due index (`queue_due`) only the
 *   `later` ones. A task queued to run now has no entry in `queue_due` any more: one index entry
 *   less per enqueue.
 * - Each claim first moves the scheduled entries that are due into the claim index (`later`
 *   cleared, at most {@linkcode PROMOTE_LIMIT} a call, rows another worker holds skipped), then
 *   claims as before, in priority then FIFO order.
 * - The next due time reads `queue_due`; the check for tasks left waiting counts a scheduled
 *   entry that is due, too (it is moved by the next claim).
 * - The quarantined entries get an index of their own (`queue_quarantine`, empty but for them):
 *   every exchange asks whether any is there and how many, and that question read the whole
 *   queue (measured: 51,000 rows, 4.5 to 38 ms, twice per exchange).
 *
 * The migration sets `later` on the entries due in the future. An entry written by an older
 * QTasks while a newer one migrated (a rolling upgrade) gets `later` false whatever its due time:
 * it is claimed when due, as before, but no worker's timer wakes for it; the next wake-up (at most
 * `idleWakeMs`) finds it.
 */
export const PROMOTE_EXCHANGE_MIGRATION: {
  version: number;
  description: string;
  sql: (schema: string) => string;
} = {
  version: 6,
  description: "scheduled tasks stay out of the claim index until due",
  sql: (S) => `
alter table ${S}.queue add column later boolean not null default false;
update ${S}.queue set later = true where due_at > now();
drop index ${S}.queue_claim;
create index queue_claim on ${S}.queue (app, quarantine, qname, priority, seq)
  include (due_at, task_name) where not parked and not later;
drop index ${S}.queue_due;
create index queue_due on ${S}.queue (app, due_at) where later;
create index queue_quarantine on ${S}.queue (app) where quarantine;
${exchangeFunctionSql(S, 6)}`,
};

/**
 * Migration 7: pending records (see `_pending_sql.ts`): the column `queue.fields`, its index, the
 * view `tasks`, the guard trigger, and a `qt_exchange` whose claims insert the records of pending
 * entries.
 */
export const PENDING_EXCHANGE_MIGRATION: {
  version: number;
  description: string;
  sql: (schema: string) => string;
} = {
  version: 7,
  description: "a task added in bulk keeps its record in its queue entry until claimed",
  sql: (S) => `${pendingRecordsSql(S)}${exchangeFunctionSql(S, 7)}`,
};

/**
 * Migration 8: a pending entry keeps only the compact fields (see `recordTextSql` in
 * `_pending_sql.ts`) and its time of birth (`queue.born`); the view `tasks` and a `qt_exchange`
 * that read them.
 */
export const COMPACT_PENDING_MIGRATION: {
  version: number;
  description: string;
  sql: (schema: string) => string;
} = {
  version: 8,
  description: "a pending queue entry keeps only what its columns do not hold",
  sql: (S) => `${compactPendingSql(S)}${exchangeFunctionSql(S, 8)}`,
};

/** Scheduled entries that are due moved into the claim index per claim, at most. */
export const PROMOTE_LIMIT = 1_000;

/**
 * The statement that moves the due scheduled entries of app `app` into the claim index (at most
 * {@linkcode PROMOTE_LIMIT}, rows another transaction holds skipped), `now` being the claim's
 * time; `qt_exchange` and the general path's claim run it with their own expressions.
 *
 * @param S The quoted schema.
 * @param app The SQL expression of the app's name.
 * @param now The SQL expression of the claim's time (a timestamptz).
 * @returns The SQL.
 */
export function promoteDueSql(S: string, app: string, now: string): string {
  return `update ${S}.queue set later = false where ctid = any(array(
      select ctid from ${S}.queue where app = ${app} and later and due_at <= ${now}
      limit ${PROMOTE_LIMIT} for update skip locked))`;
}

/**
 * The `create or replace function` of `qt_exchange` on schema `S`, as migration `version`
 * installs it: 4, 5 (looks for waiting tasks only when its claims filled), 6 (moves due scheduled
 * entries into the claim index first), 7 (inserts the records of pending entries it claims) or 8
 * (reads the compact pending entries).
 * The text for a shipped migration never changes.
 */
function exchangeFunctionSql(S: string, version: 4 | 5 | 6 | 7 | 8): string {
  const lean = version >= 5;
  const promote = version >= 6;
  const pending = version >= 7;
  return `
create or replace function ${S}.qt_exchange(
  p_app text, p_worker text, s_uuid text[], s_deliveries int[], s_patch text[], s_ttl float8[],
  p_want int, p_lease_ms float8, p_queues text[], p_task_names text[], p_recover boolean,
  p_sweep int, p_unpark boolean, p_channel text
) returns jsonb language plpgsql as $fn$
declare
  v_now_ms float8 := ceil(extract(epoch from clock_timestamp()) * 1000);
  v_now timestamptz := to_timestamp(v_now_ms / 1000.0);
  v_stamp text := round(v_now_ms::numeric / 1000, 3)::text;
  v_settle int := coalesce(array_length(s_uuid, 1), 0);
  v_n int;
  v_lines text[] := '{}';
  v_more text[];
  v_claimed jsonb := '[]';
  v_batch jsonb;
  v_dropped text[] := '{}';
  v_gone text[];
  v_left int := greatest(p_want, 0);
  v_rest boolean := false;
  v_queue text;
  v_known text[];
  v_uuids text[];
  v_special boolean;
  v_quarantined int;
  v_next_due float8;
  v_waiting boolean;
  v_rate_due float8;
  v_swept int := 0;
  v_parked boolean := false;
  v_payload text := '';
  v_line text;${lean ? "\n  v_capped boolean := false;" : ""}
begin
  -- What the general path must do: then nothing is done here.
  if v_settle > 0 then
    select count(*) into v_n from (
      select 1 from unnest(s_uuid, s_deliveries) as s(uuid, deliveries)
      join ${S}.leases l on l.app = p_app and l.uuid = s.uuid and l.worker_id = p_worker
        and l.deliveries = s.deliveries and l.conc_slot is null
      join ${S}.records r on r.app = p_app and r.uuid = s.uuid and not (r.fields ? 'flow')
      for update of l, r) held;
    if v_n <> v_settle then return jsonb_build_object('fallback', true); end if;
  end if;
  if p_recover and exists (
    select 1 from ${S}.leases where app = p_app and deadline <= v_now
  ) then
    return jsonb_build_object('fallback', true);
  end if;
  if v_left > 0 and exists (select 1 from ${S}.queue where app = p_app and quarantine) then
    return jsonb_build_object('fallback', true);
  end if;
  -- A rate-limited slot whose window has room again: the general path puts its parked tasks back.
  v_rate_due := (select extract(epoch from min(due_at)) * 1000 from ${S}.rate_slots
    where app = p_app)::float8;
  if v_rate_due <= v_now_ms then return jsonb_build_object('fallback', true); end if;
  if v_settle = 0 then perform set_config('synchronous_commit', 'off', true); end if;

  -- Settle: the leases go, the records get their outcome and retention.
  if v_settle > 0 then
    with s as (
      select * from unnest(s_uuid, s_deliveries, s_patch, s_ttl) as s(uuid, deliveries, patch, ttl)),
    held as (
      delete from ${S}.leases l using s
      where l.app = p_app and l.uuid = s.uuid and l.worker_id = p_worker
        and l.deliveries = s.deliveries
      returning l.uuid),
    done as (
      update ${S}.records r set fields = r.fields || s.patch::jsonb
          || jsonb_build_object('updated_at', v_stamp, 'finished_at', v_stamp),
        expires_at = clock_timestamp() + s.ttl * interval '1 millisecond'
      from s join held h using (uuid)
      where r.app = p_app and r.uuid = s.uuid
      returning r.uuid, r.task_name, s.patch::jsonb->>'status' as status)
    select count(*), coalesce(array_agg(
        json_build_array(p_app, d.uuid, d.status, d.status, coalesce(d.task_name, ''))::text), '{}')
      into v_n, v_more from done d;
    if v_n <> v_settle then
      raise exception 'qt_exchange: % of % settlements stored', v_n, v_settle
        using errcode = 'QTX01';
    end if;
    v_lines := v_lines || v_more;
  end if;

${
    promote
      ? `  -- Scheduled entries now due join the claim index (the rest, if any, at the next call).
  if v_left > 0 then${
        pending
          ? `
    perform ${CLAIMING_SQL};`
          : ""
      }
    ${promoteDueSql(S, "p_app", "v_now")};
    get diagnostics v_n = row_count;
    if v_n >= ${PROMOTE_LIMIT} then v_capped := true; end if;
  end if;

`
      : ""
  }  -- Claim, queue by queue, in priority then FIFO order.
  foreach v_queue in array case when v_left > 0 then p_queues else '{}'::text[] end loop
    v_known := case when v_queue <> 'default' then p_task_names end;
    for v_round in 1..10 loop
      select coalesce(array_agg(c.uuid order by c.priority, c.seq), '{}'),
          coalesce(bool_or(c.conc_slot is not null or c.rate_slot is not null
            or coalesce(c.deadline <= v_now, false)), false)
        into v_uuids, v_special
      from (
        select q.uuid, q.priority, q.seq, q.conc_slot, q.rate_slot, q.deadline from ${S}.queue q
        where q.app = p_app and not q.quarantine and not q.parked${
    promote ? " and not q.later" : ""
  } and q.qname = v_queue
          and q.due_at <= v_now and (v_known is null or q.task_name = any(v_known))
          and not exists (
            select 1 from ${S}.paused p where p.app = p_app and p.name in ('*', q.task_name))
        order by q.priority, q.seq limit v_left for update skip locked) c;
      if v_special then
        v_rest := true;
        exit;
      end if;
      exit when cardinality(v_uuids) = 0;
      with picked as (
        delete from ${S}.queue q where q.app = p_app and q.uuid = any(v_uuids)
        returning q.uuid, q.priority, q.seq, q.due_at${
    version >= 8 ? `, ${pendingTextSql("q")} as fields` : pending ? ", q.fields" : ""
  }),
      ${
    pending
      ? claimRecordsSql(S, {
        app: "p_app",
        worker: "p_worker",
        stamp: "v_stamp",
        now: "v_now",
        from: "picked p",
        where: "true",
      })
      : `updated as (
        update ${S}.records r set fields = r.fields || jsonb_build_object(
            'status', 'process', 'worker_id', p_worker,
            'deliveries', (coalesce((r.fields->>'deliveries')::int, 0) + 1)::text,
            'started_at', v_stamp, 'updated_at', v_stamp)
        from picked p
        where r.app = p_app and r.uuid = p.uuid and r.status = 'new'
          and (r.expires_at is null or r.expires_at > v_now)
        returning r.uuid, r.fields)`
  },
      leased as (
        insert into ${S}.leases (app, uuid, worker_id, deliveries, deadline)
        select p_app, u.uuid, p_worker, (u.fields->>'deliveries')::int,
          to_timestamp((v_now_ms + p_lease_ms) / 1000.0)
        from updated u)
      select
        coalesce(jsonb_agg(jsonb_build_object('uuid', p.uuid, 'priority', p.priority,
            'due', extract(epoch from p.due_at) * 1000, 'fields', u.fields)
          order by p.priority, p.seq) filter (where u.uuid is not null), '[]'),
        coalesce(array_agg(p.uuid) filter (where u.uuid is null), '{}'),
        coalesce(array_agg(json_build_array(p_app, p.uuid, 'process', 'running',
            coalesce(u.fields->>'task_name', ''))::text order by p.priority, p.seq)
          filter (where u.uuid is not null), '{}')
        into v_batch, v_gone, v_more
      from picked p left join updated u using (uuid);
      v_claimed := v_claimed || v_batch;
      v_dropped := v_dropped || v_gone;
      v_lines := v_lines || v_more;
      v_left := v_left - jsonb_array_length(v_batch);
      exit when cardinality(v_gone) = 0 or v_left <= 0;${
    lean ? "\n      if v_round = 10 then v_capped := true; end if;" : ""
  }
    end loop;
    exit when v_rest or v_left <= 0;
  end loop;

  select
    (select count(*) from ${S}.queue where app = p_app and quarantine)::int,
    (select extract(epoch from min(due_at)) * 1000 from ${S}.queue
      where app = p_app${promote ? " and later" : ""} and due_at > v_now)::float8,
    ${lean ? "(v_left <= 0 or v_rest or v_capped) and " : ""}${
    promote ? "(" : ""
  }exists (select 1 from ${S}.queue where app = p_app and due_at <= v_now and not parked${
    promote ? " and not later" : ""
  }
      and qname = any(p_queues)
      and (qname = 'default' or p_task_names is null or task_name = any(p_task_names)))${
    promote
      ? `
      or exists (select 1 from ${S}.queue where app = p_app and later and due_at <= v_now))`
      : ""
  }
    into v_quarantined, v_next_due, v_waiting;
  if v_waiting then
    v_lines := v_lines || json_build_array(p_app, '', '!wake', '', '')::text;
  end if;

  -- Retention: expired records of every app, a batch (as PostgresStorage.sweep).
  if p_sweep > 0 then
    with d as (
      delete from ${S}.records where ctid = any(array(
        select ctid from ${S}.records where expires_at <= clock_timestamp()
        limit p_sweep for update skip locked))
      returning 1)
    select count(*) into v_swept from d;
  end if;
  if p_unpark then
    v_parked := exists (select 1 from ${S}.queue where app = p_app and parked);
    -- As the general path's timed sweep (rateSweep, dedupSweep): rate-log rows of idle slots a
    -- while after their window, and expired deduplication keys.
    delete from ${S}.rate_log where app = p_app
      and until < to_timestamp((v_now_ms - ${SWEEP_GRACE_MS}) / 1000.0);
    delete from ${S}.dedup where app = p_app and until <= clock_timestamp();
  end if;

  -- The events, in as few notifications as fit (delivered on commit).
  foreach v_line in array v_lines loop
    if v_payload <> '' and octet_length(v_payload) + octet_length(v_line) + 1 > ${PAYLOAD_LIMIT} then
      perform pg_notify(p_channel, v_payload);
      v_payload := '';
    end if;
    v_payload := case when v_payload = '' then v_line else v_payload || E'\\n' || v_line end;
  end loop;
  if v_payload <> '' then perform pg_notify(p_channel, v_payload); end if;

  return jsonb_build_object('now', v_now_ms, 'claimed', v_claimed, 'dropped', to_jsonb(v_dropped),
    'rest', v_rest, 'quarantined', v_quarantined, 'next_due', v_next_due, 'swept', v_swept,
    'parked', v_parked, 'rate_due', v_rate_due);
end
$fn$;
`;
}

/** One task claimed by `qt_exchange`. */
export interface FastClaim {
  /** The task. */
  uuid: string;
  /** Its priority. */
  priority: number;
  /** When it became due (ms, the server's clock). */
  due: number;
  /** Its record's fields after the claim. */
  fields: Record<string, string>;
}

/** What `qt_exchange` answered (see {@linkcode FAST_EXCHANGE_MIGRATION}). */
export interface FastExchangeReply {
  /** Nothing was done: the general path must do the whole exchange. */
  fallback?: boolean;
  /** The server's clock (ms). */
  now: number;
  /** The tasks claimed, in order. */
  claimed: FastClaim[];
  /** Entries dropped. */
  dropped: string[];
  /** Claims left to the general path (a task with a deadline or a concurrency limit). */
  rest: boolean;
  /** Entries in the quarantine. */
  quarantined: number;
  /** When the next scheduled task is due (ms), or null. */
  next_due: number | null;
  /** Expired records deleted. */
  swept: number;
  /** Whether tasks are parked (their slots' safety net runs on the general path). */
  parked: boolean;
  /** When a rate-limited slot's window has room next (ms), or null: none has parked tasks. */
  rate_due: number | null;
}

/** The SQL of one `qt_exchange` call on schema `S` (parameters as in the table above). */
export function fastExchangeSql(S: string): string {
  return `select ${S}.qt_exchange($1::text, $2::text, $3::text[], $4::int[], $5::text[],
    $6::float8[], $7::int, $8::float8, $9::text[], $10::text[], $11::boolean, $12::int,
    $13::boolean, $14::text) as reply`;
}

/** The SQLSTATE `qt_exchange` raises when a settlement it checked was not stored. */
export const FAST_EXCHANGE_SHORT = "QTX01";

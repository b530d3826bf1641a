/**
 * Rate limits on PostgreSQL (the `rateLimit` option, docs/flow-control.md#rate-limits): a
 * sliding-window log per slot, on the server's clock, under the slot's transaction-scoped advisory
 * lock. Called from the broker's claim and exchange (`postgres_broker.ts`).
 *
 * - A rate-limited task's record carries `rate_limit` (`"<limit> <durationMs> <slot>"`, as on
 *   the other backends); its queue entry the same as columns (`rate_slot`, `rate_limit`,
 *   `rate_ms`), read from the record by {@linkcode rateColumnsSql}.
 * - `rate_log` holds one row per start of a slot, until the start leaves the window (`until` =
 *   start + durationMs): a start is allowed while fewer than `limit` rows of the slot have
 *   `until` later than now. The rows of a slot are read and written only under its advisory lock,
 *   and "now" is read after the lock is taken (`clock_timestamp()`), so the times logged are in
 *   the order of the starts whatever the transactions' ages: no window of `durationMs` ever holds
 *   more than `limit` starts.
 * - A claim that finds the window full parks the task (`parked`, `rate_parked`: out of the claim
 *   index, status still `new`) and records in `rate_slots` when the slot's window has room
 *   (`due_at`). An exchange that finds a slot due (its broker keeps the earliest `due_at` it saw)
 *   moves as many parked tasks as the window has room for back to their queue, and the exchange
 *   tells an idle worker when to look again (`nextDueMs`).
 *
 * @module
 */
import type { PgStep } from "./_pg_step.ts";
import { toUnixSeconds } from "../../model/task_codec.ts";

/** How long (ms) a log row of an idle slot stays after its window before the sweep deletes it. */
const SWEEP_GRACE_MS = 60_000;

/** Slots woken per exchange, at most. */
const WAKE_LIMIT = 100;

/**
 * The queue columns `rate_slot, rate_limit, rate_ms` of a record whose fields are the jsonb
 * expression `fields` (all null without a rate limit).
 */
export function rateColumnsSql(fields: string): string {
  const spec = `(${fields})->>'rate_limit'`;
  return `substring(${spec} from '^[0-9]+ [0-9]+ (.*)$'),
    substring(${spec} from '^([0-9]+) ')::bigint,
    substring(${spec} from '^[0-9]+ ([0-9]+) ')::bigint`;
}

/** The advisory lock key of rate-limit slot `slot` (SQL) of app `$1`. */
function rateKey(slot: string): string {
  return `hashtextextended('qtasks:rate:' || $1::text || ':' || ${slot}, 0)`;
}

/**
 * Tries the slot's lock; on success returns the server's time read after it was taken (ms), the
 * time of the starts this transaction logs for the slot.
 */
export async function rateLock(step: PgStep, slot: string): Promise<number | undefined> {
  const [row] = await step.run(
    `select case when pg_try_advisory_xact_lock(${rateKey("$2::text")})
       then (extract(epoch from clock_timestamp()) * 1000)::float8 end as at`,
    [step.app, slot],
  );
  return row.at === null ? undefined : Number(row.at);
}

/** A queue entry of a rate-limited task, as the claim read it. */
export interface RatedEntry {
  /** The task. */
  uuid: string;
  /** Its rate-limit slot, limit and window. */
  rateSlot: string;
  rateLimit: number;
  rateMs: number;
  /** Its concurrency slot (its lock already held) and limit, if any. */
  concSlot: string | null;
  concLimit: number;
}

/**
 * Takes a rate-limited task (its slot's lock held, taken at `at`): when its window has room (and
 * its concurrency slot too, if any), it logs a start at `at` and hands the task out; else it parks
 * it (for its window, or for its concurrency slot: then no start is logged). `take` is the claim's
 * SQL (the CTEs `updated` and `leased` from the CTE `picked`), with its parameters: `$1` app,
 * `$2` uuid, `$3` the step's time, `$4` the concurrency slot, `$5` worker, `$6` the start's
 * stamp, `$7` lease ms; then `$8` concurrency limit, `$9` rate slot, `$10` limit, `$11` window
 * ms, `$12` the start's time (ms).
 *
 * @returns Whether the window and the concurrency slot had room, and the record taken.
 */
export async function rateTake(
  step: PgStep,
  take: string,
  entry: RatedEntry,
  at: number,
  workerId: string,
  leaseMs: number,
): Promise<{ rate: boolean; conc: boolean; fields: Record<string, string> | null }> {
  const S = step.c.s;
  const [row] = await step.run(
    `with used as (
       select count(*)::int as n, min(until) as first from ${S}.rate_log
       where app = $1 and slot = $9 and until > to_timestamp($12::float8 / 1000.0)),
     room as (
       select (select n from used) < $10::bigint as rate,
         ($4::text is null or (select count(*) from ${S}.leases
           where app = $1 and conc_slot = $4) < $8::int) as conc),
     picked as (
       delete from ${S}.queue q where q.app = $1 and q.uuid = $2
         and (select rate and conc from room)
       returning q.uuid),
     parked as (
       update ${S}.queue q set parked = true, quarantine = false,
         rate_parked = not (select rate from room)
       where q.app = $1 and q.uuid = $2 and not (select rate and conc from room)
       returning q.uuid),
     logged as (
       insert into ${S}.rate_log (app, slot, until)
       select $1, $9, to_timestamp(($12::float8 + $11::float8) / 1000.0) from picked),
     swept as (
       delete from ${S}.rate_log
       where app = $1 and slot = $9 and until <= to_timestamp($12::float8 / 1000.0)),
     due as (
       insert into ${S}.rate_slots as r (app, slot, due_at, lim, ms)
       select $1, $9, coalesce((select first from used), to_timestamp($12::float8 / 1000.0)),
         $10, $11
       from parked where not (select rate from room)
       on conflict (app, slot) do update set due_at = least(r.due_at, excluded.due_at),
         lim = excluded.lim, ms = excluded.ms),
     ${take}
     select (select rate from room) as rate, (select conc from room) as conc,
       (select fields from updated) as fields`,
    [
      step.app,
      entry.uuid,
      step.nowMs,
      entry.concSlot,
      workerId,
      toUnixSeconds(at),
      leaseMs,
      entry.concLimit,
      entry.rateSlot,
      entry.rateLimit,
      entry.rateMs,
      at,
    ],
  );
  return { rate: row.rate, conc: row.conc, fields: row.fields };
}

/**
 * Wakes the slots whose window has room (`rate_slots.due_at` passed): under each one's lock
 * (tried: a slot busy in another exchange is left for later), moves as many of its parked tasks
 * as its window has room for back to their queue (priority, then age), and says when it is due
 * again (or forgets it when none is parked).
 *
 * @returns How many tasks went back (the caller wakes the workers).
 */
export async function rateWake(step: PgStep): Promise<number> {
  const S = step.c.s;
  const [lock] = await step.run(
    `select coalesce(array_agg(d.slot order by d.slot), '{}') as slots from (
       select slot from ${S}.rate_slots where app = $1 and due_at <= to_timestamp($2::float8 / 1000.0)
       order by slot limit ${WAKE_LIMIT}) d
     where pg_try_advisory_xact_lock(${rateKey("d.slot")})`,
    [step.app, step.nowMs],
  );
  if (lock.slots.length === 0) return 0;
  // A statement of its own, after the locks: it sees every start logged before them.
  const [row] = await step.run(
    `with w as (
       select r.slot, r.lim, r.ms, u.n, u.first from ${S}.rate_slots r
       cross join lateral (
         select count(*)::int as n, min(l.until) as first from ${S}.rate_log l
         where l.app = $1 and l.slot = r.slot and l.until > clock_timestamp()) u
       where r.app = $1 and r.slot = any($2::text[])),
     k as (
       select p.uuid, w.slot from w cross join lateral (
         select q.uuid from ${S}.queue q where q.app = $1 and q.rate_parked and q.rate_slot = w.slot
         order by q.priority, q.seq limit greatest(0, w.lim - w.n)) p),
     freed as (
       update ${S}.queue q set parked = false, rate_parked = false from k
       where q.app = $1 and q.uuid = k.uuid returning q.uuid),
     rest as (
       select w.slot, w.ms, w.first,
         (select count(*) from ${S}.queue q where q.app = $1 and q.rate_parked and q.rate_slot = w.slot)
           - (select count(*) from k where k.slot = w.slot) as parked
       from w),
     again as (
       update ${S}.rate_slots r
       set due_at = coalesce(x.first, clock_timestamp() + x.ms * interval '1 millisecond')
       from rest x where r.app = $1 and r.slot = x.slot and x.parked > 0),
     gone as (
       delete from ${S}.rate_slots r using rest x
       where r.app = $1 and r.slot = x.slot and x.parked <= 0)
     select count(*)::int as n from freed`,
    [step.app, lock.slots],
  );
  return row.n;
}

/**
 * The state query's column `rate_due`: when the app's first slot with parked tasks has room (ms
 * since the epoch; null: none parked). `$1` is the app.
 */
export function rateDueSql(S: string): string {
  return `(select extract(epoch from min(due_at)) * 1000 from ${S}.rate_slots where app = $1)::float8`;
}

/**
 * Deletes the log rows of idle slots, a while after their window (a slot in use deletes its own
 * at each start): the grace leaves any exchange that still counts them its view.
 */
export async function rateSweep(step: PgStep): Promise<void> {
  await step.run(
    `delete from ${step.c.s}.rate_log
     where app = $1 and until < to_timestamp(($2::float8 - $3::float8) / 1000.0)`,
    [step.app, step.nowMs, SWEEP_GRACE_MS],
  );
}

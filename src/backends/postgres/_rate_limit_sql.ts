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
import { pendingTextSql } from "./_pending_sql.ts";
import { toUnixSeconds } from "../../model/task_codec.ts";

/**
 * What this module uses of a `PgStep` (`_pg_step.ts`, which imports this module's
 * {@linkcode rateColumnsSql}): a statement runner in the exchange's transaction.
 */
interface PgStep {
  readonly app: string;
  readonly nowMs: number;
  readonly c: { readonly s: string };
  // deno-lint-ignore no-explicit-any
  run(text: string, params?: unknown[]): Promise<any[]>;
}

/** How long (ms) a log row of an idle slot stays after its window before the sweep deletes it. */
export const SWEEP_GRACE_MS = 60_000;

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
 * Tries the rate-limit slot's lock; on success returns the server's time read after it was taken (ms), the
 * time of the starts this transaction logs for the slot.
 */
async function rateLock(step: PgStep, slot: string): Promise<number | undefined> {
  const [row] = await step.run(
    `select case when pg_try_advisory_xact_lock(${rateKey("$2::text")})
       then (extract(epoch from clock_timestamp()) * 1000)::float8 end as at`,
    [step.app, slot],
  );
  return row.at === null ? undefined : Number(row.at);
}

/** A queue entry as the claim read it (the columns this module uses). */
export interface ClaimRow {
  /** The task. */
  uuid: string;
  /** Its rate-limit slot, limit and window (null: none). */
  rate_slot: string | null;
  rate_limit: number | string | null;
  rate_ms: number | string | null;
  /** Its concurrency slot and limit (null: none). */
  conc_slot: string | null;
  conc_limit: number | string | null;
}

/** What the claim of a rate-limited entry gave: the record taken, or null (parked or gone). */
export type RateTaken = { fields: Record<string, string> | null; parked: boolean };

/**
 * Claims the rate-limited entries of a claim (`rows`, in claim order), one statement per slot
 * (and concurrency slot, for a task with both): under the slot's lock (tried, and so is the
 * concurrency slot's with `lockConc`; a busy one leaves its entries queued, in `skip`), it starts
 * as many as the window (and the concurrency slot) has room for, logging each start at the time
 * the lock was taken, and parks the others: for the window (`rate_parked`), or for the
 * concurrency slot when the window had room (then no start is logged).
 *
 * `take` is the claim's SQL (the CTEs `updated` and `leased` from the CTE `picked`), with its
 * parameters: `$1` app, `$3` the step's time, `$4` the concurrency slot, `$5` worker, `$6` the
 * start's stamp, `$7` lease ms. This statement adds `$2` the uuids, `$8` the concurrency limit,
 * `$9` the rate slot, `$10` its limit, `$11` its window (ms), `$12` the start's time (ms).
 *
 * @returns Per uuid claimed or parked, what it gave (absent: left queued).
 */
export async function rateClaim(
  step: PgStep,
  take: string,
  rows: ClaimRow[],
  locks: { rated: Map<string, number>; skip: string[] },
  lockConc: (slot: string) => Promise<boolean>,
  workerId: string,
  leaseMs: number,
): Promise<Map<string, RateTaken>> {
  const S = step.c.s;
  const groups = new Map<string, ClaimRow[]>();
  for (const row of rows) {
    if (row.rate_slot === null) continue;
    const key = JSON.stringify([row.rate_slot, row.conc_slot]);
    const group = groups.get(key);
    if (group) group.push(row);
    else groups.set(key, [row]);
  }
  const out = new Map<string, RateTaken>();
  for (const group of groups.values()) {
    const { rate_slot: slot, conc_slot: concSlot } = group[0];
    let at = locks.rated.get(slot!);
    if (concSlot !== null && !await lockConc(concSlot)) at = undefined;
    else if (at === undefined) {
      at = await rateLock(step, slot!);
      if (at !== undefined) locks.rated.set(slot!, at);
    }
    if (at === undefined) {
      for (const row of group) locks.skip.push(row.uuid);
      continue;
    }
    const results = await step.run(
      `with used as (
         select count(*)::int as n, min(until) as first from ${S}.rate_log
         where app = $1 and slot = $9 and until > to_timestamp($12::float8 / 1000.0)),
       room as (
         select greatest(0, $10::bigint - (select n from used)) as rate,
           case when $4::text is null then $10::bigint
             else greatest(0, $8::int - (select count(*) from ${S}.leases
               where app = $1 and conc_slot = $4)) end as conc),
       ord as (select u.uuid, u.n from unnest($2::text[]) with ordinality as u(uuid, n)),
       picked as (
         delete from ${S}.queue q using ord o
         where q.app = $1 and q.uuid = o.uuid
           and o.n <= (select least(rate, conc) from room)
         returning q.uuid, ${pendingTextSql("q")} as fields),
       parked as (
         update ${S}.queue q set parked = true, quarantine = false,
           rate_parked = o.n > (select rate from room)
         from ord o
         where q.app = $1 and q.uuid = o.uuid and o.n > (select least(rate, conc) from room)
         returning q.uuid, q.rate_parked),
       ${take},
       logged as (
         insert into ${S}.rate_log (app, slot, until)
         select $1, $9, to_timestamp(($12::float8 + $11::float8) / 1000.0) from updated),
       swept as (
         delete from ${S}.rate_log
         where app = $1 and slot = $9 and until <= to_timestamp($12::float8 / 1000.0)),
       due as (
         insert into ${S}.rate_slots as r (app, slot, due_at, lim, ms)
         select $1, $9, coalesce((select first from used), to_timestamp($12::float8 / 1000.0)),
           $10, $11
         where exists (select 1 from parked where rate_parked)
         on conflict (app, slot) do update set due_at = least(r.due_at, excluded.due_at),
           lim = excluded.lim, ms = excluded.ms)
       select o.uuid, k.uuid is not null as parked, u.fields
       from ord o left join parked k using (uuid) left join updated u using (uuid)`,
      [
        step.app,
        group.map((row) => row.uuid),
        step.nowMs,
        concSlot,
        workerId,
        toUnixSeconds(at),
        leaseMs,
        Number(group[0].conc_limit) || 1,
        slot,
        Number(group[0].rate_limit) || 1,
        Number(group[0].rate_ms) || 1000,
        at,
      ],
    );
    for (const row of results) out.set(row.uuid, { fields: row.fields, parked: row.parked });
  }
  return out;
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

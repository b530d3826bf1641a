/**
 * Deduplication on PostgreSQL (the `deduplication` option, docs/flow-control.md#deduplication):
 * the table `dedup` maps a key (task name and id) to the task holding it until `until` (server
 * time). An add with the option runs in one transaction (the caller's, when it passes `tx`: the
 * key is then taken or refreshed in it, and rolled back with it) under the key's
 * transaction-scoped advisory lock, so producers racing on one key are served one after the
 * other: the first stores its task, the others join it. Called from the broker's `add`.
 *
 * @module
 */
import type { NewTask } from "../../model/messages.ts";
import type { PostgresConnection, Queryable } from "./postgres_connection.ts";
import { stampSql } from "./_pending_sql.ts";

/** What an add with `deduplication` found under its key. */
export type DedupFound =
  /** A live task holds it: the add joins it (debounce: after giving it its arguments). */
  | { joined: string }
  /** No live task holds it (or a started one, for a debounce): the add stores its task. */
  | { joined?: undefined };

/** The key of a task name and id (the length first: names and ids never run into each other). */
function keyOf(task: NewTask): string {
  return `${task.taskName.length}:${task.taskName}:${task.deduplication!.id}`;
}

/** A unix-seconds stamp of a timestamptz expression, as the records store them. */
function stamp(at: string): string {
  return `to_jsonb(${stampSql(at)})`;
}

/**
 * Takes the key's lock (held until the transaction ends), then reads who holds it: a throttle
 * joins a live task (any status but `cancel`); a debounce joins a task that has not started
 * (status `new`), after giving it this call's arguments, delay and deadline (a parked task keeps
 * its place) and restarting the key's window.
 *
 * @returns The task joined, or nothing (store the task, then {@linkcode dedupHold}); `duplicate`
 *   when a live record has the task's own uuid.
 */
export async function dedupFind(
  c: PostgresConnection,
  on: Queryable,
  app: string,
  task: NewTask,
): Promise<DedupFound | "duplicate"> {
  const S = c.s;
  const key = keyOf(task);
  await c.run(
    on,
    `select pg_advisory_xact_lock(hashtextextended('qtasks:dedup:' || $1::text || ':' || $2::text, 0))`,
    [app, key],
  );
  // After the lock, in a statement of its own: it sees the key as the last holder left it.
  const [found] = await c.run(
    on,
    `select exists (select 1 from ${S}.tasks where app = $1 and uuid = $3
         and (expires_at is null or expires_at > clock_timestamp())) as duplicate,
       d.uuid as held, r.fields->>'status' as status
     from (select 1) one
     left join ${S}.dedup d on d.app = $1 and d.key = $2 and d.until > clock_timestamp()
     left join ${S}.records r on r.app = $1 and r.uuid = d.uuid
       and (r.expires_at is null or r.expires_at > clock_timestamp())`,
    [app, key, task.uuid],
  );
  if (found.duplicate) return "duplicate";
  // A key whose record is gone or cancelled is free.
  if (found.held === null || found.status === null || found.status === "cancel") return {};
  const held: string = found.held;
  if (task.deduplication!.mode === "throttle") return { joined: held };
  if (found.status !== "new") return {};
  // The queue entry first, then the record: the order of a claim (no deadlock with one); a claim
  // that holds the entry ends first, and the record then says the task started.
  const entries = await c.run(
    on,
    `select q.parked, q.due_at > clock_timestamp() as scheduled from ${S}.queue q
     where q.app = $1 and q.uuid = $2 for update`,
    [app, held],
  );
  const [record] = await c.run(
    on,
    `select fields->>'status' as status from ${S}.records where app = $1 and uuid = $2 for update`,
    [app, held],
  );
  if (record?.status !== "new") return {};
  const entry = entries[0] as { parked: boolean; scheduled: boolean } | undefined;
  const delay = task.delayMs !== undefined && task.delayMs > 0 ? Math.ceil(task.delayMs) : 0;
  const expires = task.expiresInMs !== undefined && task.expiresInMs > 0
    ? Math.ceil(task.expiresInMs)
    : 0;
  // Queued or scheduled, it is queued or scheduled again by this call's delay; parked (waiting
  // for a limit), it keeps its place.
  const moved = entry !== undefined && (entry.scheduled || (!entry.parked && delay > 0));
  await c.run(
    on,
    `with clock as (select clock_timestamp() as t),
     entry as (
       update ${S}.queue q set
         deadline = case when $5::float8 > 0 then k.t + $5::float8 * interval '1 millisecond' end,
         due_at = case when $6::boolean then k.t + $4::float8 * interval '1 millisecond' else q.due_at end,
         later = case when $6::boolean then $4::float8 > 0 else q.later end
       from clock k where q.app = $1 and q.uuid = $2),
     rec as (
       update ${S}.records r set fields = (r.fields - (case when $6::boolean
           then array['expires_at', 'run_at'] else array['expires_at'] end))
         || jsonb_build_object('args', $7::text, 'kwargs', $8::text, 'updated_at', ${stamp("k.t")})
         || case when $5::float8 > 0 then jsonb_build_object('expires_at',
              ${stamp("k.t + $5::float8 * interval '1 millisecond'")}) else '{}'::jsonb end
         || case when $6::boolean and $4::float8 > 0 then jsonb_build_object('run_at',
              ${stamp("k.t + $4::float8 * interval '1 millisecond'")}) else '{}'::jsonb end
       from clock k where r.app = $1 and r.uuid = $2),
     key_window as (
       update ${S}.dedup d set until = k.t + $9::float8 * interval '1 millisecond'
       from clock k where d.app = $1 and d.key = $3)
     select pg_notify($10, json_build_array($1::text, '', '!wake', '', '')::text)
     where $6::boolean and $4::float8 = 0`,
    [
      app,
      held,
      key,
      delay,
      expires,
      moved,
      task.args,
      task.kwargs,
      task.deduplication!.ttlMs,
      c.channel,
    ],
  );
  return { joined: held };
}

/** Gives the key to the task just stored, for `ttlMs` from now (server time). */
export async function dedupHold(
  c: PostgresConnection,
  on: Queryable,
  app: string,
  task: NewTask,
): Promise<void> {
  await c.run(
    on,
    `insert into ${c.s}.dedup (app, key, uuid, until)
     values ($1, $2, $3, clock_timestamp() + $4::float8 * interval '1 millisecond')
     on conflict (app, key) do update set uuid = excluded.uuid, until = excluded.until`,
    [app, keyOf(task), task.uuid, task.deduplication!.ttlMs],
  );
}

/** Deletes the keys whose window has passed. */
export async function dedupSweep(c: PostgresConnection, on: Queryable, app: string): Promise<void> {
  await c.run(on, `delete from ${c.s}.dedup where app = $1 and until <= clock_timestamp()`, [app]);
}

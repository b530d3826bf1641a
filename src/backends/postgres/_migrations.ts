/**
 * The PostgreSQL schema, as numbered migrations applied in order under an advisory lock (see
 * `postgres_connection.ts`). Each migration runs once, in its own transaction, and records its
 * number in `<schema>.qtasks_meta`. Never edit a shipped migration: add the next one.
 *
 * Tables (every row carries its app name, so apps share one schema):
 * - `records`: one row per task record, its fields as JSONB (the same string fields the Redis
 *   backend keeps in a hash), plus columns generated from them for the operator's queries, and
 *   `expires_at` for retention. Written a few times per task (add, claim, settle).
 * - `queue`: the hot table, one narrow row per waiting task (queued or scheduled: `due_at`);
 *   claims delete from it with `FOR UPDATE SKIP LOCKED`, so it stays small and never carries
 *   dead versions of wide rows.
 * - `leases`: one row per running task (worker, delivery, deadline).
 * - `config`, `claims`, `workers`, `counters`, `paused`, `heartbeats`: the GlobalConfig.
 *
 * Version 2 (flow control) gives `queue` the task's named queue (`qname`), its deadline
 * (`deadline`) and its concurrency slot (`conc_slot`, `conc_limit`, and `parked` for a task
 * waiting for its slot), and `leases` the slot a running task holds. Every new column is null
 * (or its default) for a task that uses none of it, and the claim index covers only the entries
 * that are not parked.
 *
 * Version 3 (rate limits and deduplication) gives `queue` the task's rate-limit slot
 * (`rate_slot`, `rate_limit`, `rate_ms`, read from the record's `rate_limit` field) and
 * `rate_parked` (a parked task waiting for its slot's window, not for a concurrency slot), and
 * adds `rate_log` (the sliding-window log: one row per start of a slot, kept until the start
 * leaves its window, `until`), `rate_slots` (per slot with parked tasks: when its window has
 * room, `due_at`) and `dedup` (per deduplication key: the task holding it, until when). See
 * `_rate_limit_sql.ts` and `_dedup_sql.ts`. Self-contained: it only adds columns, tables and
 * indexes.
 *
 * Version 4 installs the function `qt_exchange`: the common exchange (plain settlements, claims,
 * the queue's state, the retention sweep and the events) in one call (see `_fast_exchange.ts`).
 *
 * Version 5 replaces `qt_exchange` with one that looks for waiting tasks only when its claims
 * filled, and gives `queue` and `leases` an eager autovacuum (see `_fast_exchange.ts`).
 *
 * Version 6 keeps a scheduled task (`queue.later`) out of the claim index until it is due: each
 * claim first moves the due ones in, so claims no longer walk the tasks scheduled for later, and
 * a task queued to run now has no entry in the due index (see `_fast_exchange.ts`).
 *
 * Version 7 keeps the record of a task added in bulk in its queue entry until the task is first
 * claimed (`queue.fields`; the view `tasks` shows records and pending ones together; see
 * `_pending_sql.ts`).
 *
 * Version 8 keeps in a pending entry only the fields its columns do not hold, and the entry's time
 * of birth (`queue.born`): the record's text is built from both when it is read or claimed.
 *
 * @module
 */

/** One migration: its number and SQL (`S` stands for the quoted schema name). */
export interface Migration {
  /** Its number: migrations run in increasing order. */
  version: number;
  /** What it does, for `qtasks migrate`. */
  description: string;
  /** The statements; `S` is replaced by the quoted schema. */
  sql: (schema: string) => string;
}

import {
  COMPACT_PENDING_MIGRATION,
  FAST_EXCHANGE_MIGRATION,
  LEAN_EXCHANGE_MIGRATION,
  PENDING_EXCHANGE_MIGRATION,
  PROMOTE_EXCHANGE_MIGRATION,
} from "./_fast_exchange.ts";

export { SCHEMA_VERSION } from "./schema_version.ts";

/** Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "records, queue, leases and GlobalConfig tables",
    sql: (S) => `
create sequence ${S}.seq;
create table ${S}.records (
  app text not null,
  uuid text not null,
  fields jsonb not null,
  expires_at timestamptz,
  seq bigint generated always as ((fields->>'seq')::bigint) stored,
  status text generated always as (fields->>'status') stored,
  task_name text generated always as (fields->>'task_name') stored,
  run_at double precision generated always as ((fields->>'run_at')::float8) stored,
  finished_at double precision generated always as ((fields->>'finished_at')::float8) stored,
  primary key (app, uuid)
) with (fillfactor = 80);
create index records_seq on ${S}.records (app, seq);
create index records_expiry on ${S}.records (expires_at) where expires_at is not null;
create table ${S}.queue (
  app text not null,
  uuid text not null,
  priority integer not null,
  seq bigint not null,
  due_at timestamptz not null,
  quarantine boolean not null default false,
  task_name text not null,
  primary key (app, uuid)
);
create index queue_claim on ${S}.queue (app, quarantine, priority, seq) include (due_at, task_name);
create index queue_due on ${S}.queue (app, due_at);
create table ${S}.leases (
  app text not null,
  uuid text not null,
  worker_id text not null,
  deliveries integer not null,
  deadline timestamptz not null,
  primary key (app, uuid)
);
create index leases_deadline on ${S}.leases (app, deadline);
create table ${S}.config (
  app text not null,
  grp text not null,
  key text not null,
  value text not null,
  primary key (app, grp, key)
);
create table ${S}.claims (
  app text not null,
  key text not null,
  expires_at timestamptz not null,
  primary key (app, key)
);
create table ${S}.workers (
  app text not null,
  worker_id text not null,
  info jsonb not null,
  expires_at timestamptz not null,
  primary key (app, worker_id)
);
create table ${S}.counters (
  app text not null,
  bucket bigint not null,
  processed bigint not null default 0,
  failed bigint not null default 0,
  primary key (app, bucket)
);
create table ${S}.paused (
  app text not null,
  name text not null,
  primary key (app, name)
);
create table ${S}.heartbeats (
  app text not null,
  instance text not null,
  expires_at timestamptz not null,
  primary key (app, instance)
);
`,
  },
  {
    version: 2,
    description: "flow control: named queues, deadlines and concurrency slots",
    sql: (S) => `
alter table ${S}.queue
  add column qname text not null default 'default',
  add column deadline timestamptz,
  add column conc_slot text,
  add column conc_limit integer,
  add column parked boolean not null default false;
drop index ${S}.queue_claim;
create index queue_claim on ${S}.queue (app, quarantine, qname, priority, seq)
  include (due_at, task_name) where not parked;
create index queue_parked on ${S}.queue (app, conc_slot, priority, seq) where parked;
alter table ${S}.leases add column conc_slot text;
create index leases_slot on ${S}.leases (app, conc_slot) where conc_slot is not null;
`,
  },
  {
    version: 3,
    description: "flow control: rate limits and deduplication",
    sql: (S) => `
alter table ${S}.queue
  add column rate_slot text,
  add column rate_limit bigint,
  add column rate_ms bigint,
  add column rate_parked boolean not null default false;
create index queue_rate_parked on ${S}.queue (app, rate_slot, priority, seq) where rate_parked;
create table ${S}.rate_log (
  app text not null,
  slot text not null,
  until timestamptz not null
);
create index rate_log_slot on ${S}.rate_log (app, slot, until);
create table ${S}.rate_slots (
  app text not null,
  slot text not null,
  due_at timestamptz not null,
  lim bigint not null,
  ms bigint not null,
  primary key (app, slot)
);
create index rate_slots_due on ${S}.rate_slots (app, due_at);
create table ${S}.dedup (
  app text not null,
  key text not null,
  uuid text not null,
  until timestamptz not null,
  primary key (app, key)
);
create index dedup_until on ${S}.dedup (app, until);
`,
  },
  FAST_EXCHANGE_MIGRATION,
  LEAN_EXCHANGE_MIGRATION,
  PROMOTE_EXCHANGE_MIGRATION,
  PENDING_EXCHANGE_MIGRATION,
  COMPACT_PENDING_MIGRATION,
];

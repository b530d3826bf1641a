/**
 * One transaction of the PostgreSQL backend, with the record and queue primitives the broker and
 * the operations are written with (as the memory backend's are with its maps): every read locks
 * the record's row (`FOR UPDATE`), every change is a statement of the same transaction, and the
 * events the changes make are sent at the end with one `pg_notify` (delivered on commit only).
 *
 * @module
 */
import { queryStatusOf } from "../../model/task_query.ts";
import type { TaskFields } from "../../model/task_record.ts";
import type { PostgresConnection, PostgresEventLine, Queryable } from "./postgres_connection.ts";
import { rateColumnsSql } from "./_rate_limit_sql.ts";
import { materializeSql } from "./_pending_sql.ts";

/**
 * Bytes (UTF-8) of one notification's payload, at most (the server's limit is 8000). `qt_exchange`
 * (`_fast_exchange.ts`) keeps the same limit for the payloads it builds; it cannot import this one
 * (`postgres_connection.ts` → `_migrations.ts` → `_fast_exchange.ts` would close a cycle).
 */
const PAYLOAD_LIMIT = 7_000;

/** One event line (see {@linkcode PostgresEventLine}). */
export type EventLine = PostgresEventLine;

/**
 * Separates the payloads in {@linkcode encodeEvents}' text: JSON text never holds it raw
 * (`JSON.stringify` writes it `\u001e`), and one text splits on the server for nothing, where a
 * `text[]` of payloads costs the driver an escape of every quote and the server a parse of the
 * array literal (1.2 ms per 1,000 events, measured for issue 20).
 */
const PAYLOAD_SEPARATOR = "\u001e";

/**
 * Packs event lines (JSON texts) into payloads of at most {@linkcode PAYLOAD_LIMIT} bytes, the
 * lines of one payload joined by newlines, the payloads by {@linkcode PAYLOAD_SEPARATOR}.
 */
class EventPacker {
  readonly #payloads: string[] = [];
  /** The lines of the payload being filled (joined once it is full: no text per line added). */
  #lines: string[] = [];
  #bytes = 0;

  /** Adds a line of `size` bytes in UTF-8. */
  add(text: string, size: number): void {
    if (this.#lines.length > 0 && this.#bytes + size + 1 > PAYLOAD_LIMIT) this.#flush();
    this.#bytes = this.#lines.length === 0 ? size : this.#bytes + size + 1;
    this.#lines.push(text);
  }

  /** The payloads, joined. */
  text(): string {
    if (this.#lines.length > 0) this.#flush();
    return this.#payloads.join(PAYLOAD_SEPARATOR);
  }

  #flush(): void {
    this.#payloads.push(this.#lines.join("\n"));
    this.#lines = [];
  }
}

/**
 * Encodes event lines into payloads of at most {@linkcode PAYLOAD_LIMIT} bytes, the lines of one
 * payload joined by newlines, the payloads by {@linkcode PAYLOAD_SEPARATOR}: the text parameter of
 * {@linkcode notifyPayloadsSql}.
 */
export function encodeEvents(lines: EventLine[]): string {
  const packer = new EventPacker();
  for (const line of lines) {
    const text = JSON.stringify(line);
    packer.add(text, utf8Length(text));
  }
  return packer.text();
}

/**
 * The events of a bulk enqueue, as {@linkcode encodeEvents} encodes each task's
 * {@linkcode storedLine} (and, with `wake`, the {@linkcode wakeLine} last), without an array per
 * task: the app's and each run of equal task names' JSON and byte counts are computed once.
 *
 * @param app The app.
 * @param tasks The tasks stored, in order.
 * @param delays Each task's delay (ms; above 0: scheduled).
 * @param wake Whether to add the wake-up line.
 * @returns The payloads, as {@linkcode encodeEvents} returns them.
 */
export function storedEvents(
  app: string,
  tasks: readonly { uuid: string; taskName: string }[],
  delays: readonly number[],
  wake: boolean,
): string {
  const packer = new EventPacker();
  const appJson = JSON.stringify(app);
  const appExtra = utf8Length(appJson) - appJson.length;
  let name: string | undefined;
  let nameJson = "";
  let nameExtra = 0;
  for (let i = 0; i < tasks.length; i++) {
    const task = tasks[i];
    if (task.taskName !== name) {
      name = task.taskName;
      nameJson = JSON.stringify(name);
      nameExtra = utf8Length(nameJson) - nameJson.length;
    }
    const uuidJson = JSON.stringify(task.uuid);
    const text = `[${appJson},${uuidJson},"new","${
      delays[i] > 0 ? "scheduled" : "queued"
    }",${nameJson}]`;
    packer.add(
      text,
      text.length + appExtra + nameExtra + utf8Length(uuidJson) - uuidJson.length,
    );
  }
  if (wake) {
    const text = JSON.stringify(wakeLine(app));
    packer.add(text, utf8Length(text));
  }
  return packer.text();
}

/**
 * The bytes of `text` in UTF-8, which the server's payload limit counts (a task name in Cyrillic
 * takes two bytes a character, one in CJK three).
 */
function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // 2 bytes below U+0800, 3 up to U+FFFF; a surrogate pair (4 bytes) is two units of 2.
    if (unit >= 0x80) bytes += unit >= 0x800 && (unit < 0xd800 || unit > 0xdfff) ? 2 : 1;
  }
  return bytes;
}

/**
 * The SQL that sends each payload of an {@linkcode encodeEvents} text (parameter `payloads`) on
 * the channel (parameter `channel`), one `pg_notify` each.
 */
export function notifyPayloadsSql(channel: string, payloads: string): string {
  return `select pg_notify(${channel}, p) from unnest(string_to_array(${payloads}::text, E'\\x1e')) as p`;
}

/** The wake-up line of app `app`: tasks may be claimable. */
export function wakeLine(app: string): EventLine {
  return [app, "", "!wake", "", ""];
}

/** The event line of a task just stored: `new`, queued or (with a delay) scheduled. */
export function storedLine(
  app: string,
  uuid: string,
  delayMs: number,
  taskName: string,
): EventLine {
  return [app, uuid, "new", delayMs > 0 ? "scheduled" : "queued", taskName];
}

/** Decodes a payload into its event lines (malformed lines are skipped). */
export function decodeEvents(payload: string): EventLine[] {
  const lines: EventLine[] = [];
  for (const text of payload.split("\n")) {
    try {
      const line = JSON.parse(text);
      if (Array.isArray(line) && line.length === 5) lines.push(line as EventLine);
    } catch { /* not ours */ }
  }
  return lines;
}

/** A queue entry. */
export interface QueueEntry {
  /** The task. */
  uuid: string;
  /** Lower first. */
  priority: number;
  /** FIFO order within a priority. */
  seq: number;
  /** Its task name (for pauses). */
  taskName: string;
}

/**
 * The primitives of one transaction of app `app`, on the server's clock `nowMs` (read when the
 * transaction began).
 */
export class PgStep {
  readonly tx: Queryable;
  readonly c: PostgresConnection;
  readonly app: string;
  /** The server's time when the step began (ms since the epoch). */
  readonly nowMs: number;
  /** Events to send at the end. */
  readonly events: EventLine[] = [];
  #wake = false;

  constructor(tx: Queryable, c: PostgresConnection, app: string, nowMs: number) {
    this.tx = tx;
    this.c = c;
    this.app = app;
    this.nowMs = nowMs;
  }

  /**
   * Begins a step: reads the server's clock.
   *
   * @returns The step.
   */
  static async begin(tx: Queryable, c: PostgresConnection, app: string): Promise<PgStep> {
    const rows = await c.run(
      tx,
      `select (extract(epoch from clock_timestamp()) * 1000)::float8 as now`,
    );
    // Rounded up: a task stored earlier in the same millisecond (due_at in microseconds) is due.
    return new PgStep(tx, c, app, Math.ceil(Number(rows[0].now)));
  }

  /** Runs a statement of this step. */
  // deno-lint-ignore no-explicit-any
  run(text: string, params: unknown[] = []): Promise<any[]> {
    return this.c.run(this.tx, text, params);
  }

  /**
   * The record's fields, its row locked (`undefined`: none, or expired). A record pending in its
   * queue entry is moved into `records` first (see `_pending_sql.ts`), so the step can change it.
   */
  async fields(uuid: string): Promise<TaskFields | undefined> {
    const read = () =>
      this.run(
        `select fields from ${this.c.s}.records where app = $1 and uuid = $2 and (expires_at is null or expires_at > to_timestamp($3::float8 / 1000.0)) for update`,
        [this.app, uuid, this.nowMs],
      );
    const rows = await read();
    if (rows.length > 0) return rows[0].fields as TaskFields;
    const moved = await this.#materialize(uuid);
    if (moved !== undefined) return moved;
    // A claim that held the entry may have just inserted the record: read it again.
    const again = await read();
    return again.length === 0 ? undefined : again[0].fields as TaskFields;
  }

  /** Moves a record pending in its queue entry into `records`; its fields, if there was one. */
  async #materialize(uuid: string): Promise<TaskFields | undefined> {
    const rows = await this.run(materializeSql(this.c.s), [this.app, uuid]);
    return rows.length === 0 ? undefined : rows[0].fields as TaskFields;
  }

  /**
   * Creates a record (taking the next seq into its `seq` field); an expired record of the same
   * uuid is replaced.
   *
   * @returns Its seq, or `undefined` when a live record has this uuid.
   */
  async insert(uuid: string, fields: TaskFields): Promise<number | undefined> {
    // A uuid whose record is pending in its queue entry is taken too.
    const rows = await this.run(
      `insert into ${this.c.s}.records as r (app, uuid, fields)
       select $1, $2, $3::text::jsonb || jsonb_build_object('seq', nextval('${this.c.s}.seq')::text)
       where not exists (select 1 from ${this.c.s}.queue q
         where q.app = $1 and q.uuid = $2 and q.fields is not null)
       on conflict (app, uuid) do update set fields = excluded.fields, expires_at = null
         where r.expires_at is not null and r.expires_at <= to_timestamp($4::float8 / 1000.0)
       returning seq`,
      [this.app, uuid, JSON.stringify(fields), this.nowMs],
    );
    if (rows.length === 0) return undefined;
    const seq = Number(rows[0].seq);
    this.#event(uuid, { ...fields, seq: String(seq) }, fields.status);
    return seq;
  }

  /** Merges `patch` into a record (which must exist); sends its event. */
  async write(uuid: string, patch: TaskFields, current?: TaskFields): Promise<void> {
    const update = () =>
      this.run(
        `update ${this.c.s}.records set fields = fields || $3::text::jsonb where app = $1 and uuid = $2 returning task_name, run_at`,
        [this.app, uuid, JSON.stringify(patch)],
      );
    let rows = await update();
    // A record pending in its queue entry: moved into `records` first.
    if (rows.length === 0 && await this.#materialize(uuid) !== undefined) rows = await update();
    if (rows.length === 0) return;
    if (current) Object.assign(current, patch);
    if (patch.status !== undefined) {
      this.#event(
        uuid,
        {
          task_name: rows[0].task_name ?? "",
          ...(rows[0].run_at !== null ? { run_at: String(rows[0].run_at) } : {}),
        },
        patch.status,
      );
    } else if (patch.progress !== undefined) {
      this.events.push([this.app, uuid, "progress", "progress", rows[0].task_name ?? ""]);
    }
  }

  /** Gives a record an expiry `ttlMs` from now (a finished task). */
  async expire(uuid: string, ttlMs: number): Promise<void> {
    await this.run(
      `update ${this.c.s}.records set expires_at = clock_timestamp() + $3::float8 * interval '1 millisecond' where app = $1 and uuid = $2`,
      [this.app, uuid, Math.max(0, Math.ceil(ttlMs))],
    );
  }

  /** Deletes a record and its queue entry; sends `deleted`. */
  async remove(uuid: string, taskName: string): Promise<void> {
    await this.run(
      `with q as (delete from ${this.c.s}.queue where app = $1 and uuid = $2)
       delete from ${this.c.s}.records where app = $1 and uuid = $2`,
      [this.app, uuid],
    );
    this.events.push([this.app, uuid, "deleted", "deleted", taskName]);
  }

  /**
   * Queues an entry, due `delayMs` from now (0: now, and wakes the workers). Its queue, deadline
   * concurrency slot and rate-limit slot are read from its record (the fields `queue`,
   * `expires_at`, `conc_slot`, `conc_limit` and `rate_limit`), so every caller (a retry, a release, an operator's retry) keeps them.
   */
  async enqueue(entry: QueueEntry, delayMs: number, quarantine = false): Promise<void> {
    await this.run(
      `insert into ${this.c.s}.queue (app, uuid, priority, seq, due_at, later, quarantine,
         task_name, qname, deadline, conc_slot, conc_limit, rate_slot, rate_limit, rate_ms)
       select $1, $2, $3, $4, to_timestamp(($5::float8 + $6::float8) / 1000.0), $6::float8 > 0,
         $7, $8,
         coalesce(r.fields->>'queue', 'default'), to_timestamp((r.fields->>'expires_at')::float8),
         r.fields->>'conc_slot', (r.fields->>'conc_limit')::int, ${rateColumnsSql("r.fields")}
       from (select 1) one left join ${this.c.s}.records r on r.app = $1 and r.uuid = $2
       on conflict (app, uuid) do update set priority = excluded.priority, seq = excluded.seq,
         due_at = excluded.due_at, later = excluded.later, quarantine = excluded.quarantine,
         parked = false,
         rate_parked = false`,
      [
        this.app,
        entry.uuid,
        entry.priority,
        entry.seq,
        this.nowMs,
        Math.max(0, delayMs),
        quarantine,
        entry.taskName,
      ],
    );
    this.wake();
  }

  /** Removes a task's queue entry. */
  async unqueue(uuid: string): Promise<void> {
    await this.run(`delete from ${this.c.s}.queue where app = $1 and uuid = $2`, [this.app, uuid]);
  }

  /** Tells the waiting workers that tasks may be claimable (sent at the end). */
  wake(): void {
    this.#wake = true;
  }

  #event(uuid: string, fields: TaskFields, status: string | undefined): void {
    if (status === undefined) return;
    const query = queryStatusOf(status, fields.run_at, this.nowMs) ?? status;
    this.events.push([this.app, uuid, status, query, fields.task_name ?? ""]);
  }

  /** Sends the events (and the wake-up) of this step: delivered when it commits. */
  async flush(): Promise<void> {
    const lines = this.events.splice(0);
    if (this.#wake) lines.push(wakeLine(this.app));
    this.#wake = false;
    if (lines.length === 0) return;
    await this.run(notifyPayloadsSql("$1", "$2"), [
      this.c.channel,
      encodeEvents(lines),
    ]);
  }
}

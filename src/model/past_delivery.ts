/**
 * The deliveries of a task that ended without a settlement: its worker stopped and gave it back,
 * or died (or stalled) and its lease expired. The backends append one entry to the record's
 * reserved `past_deliveries` field each time they put a running task back in its queue, so the
 * task's timeline shows every delivery, not only the last one. A rare path: a task that runs once
 * never writes the field.
 *
 * @module
 */

/**
 * How a past delivery ended. `expired`: its lease expired (the worker died or stalled);
 * `released`: its worker gave it back (on stop, or deferred for a remote rate limit).
 *
 * @example
 * ```ts
 * import type { DeliveryEnd } from "@qtasks/qtasks/ports";
 *
 * const end: DeliveryEnd = "expired";
 * console.log(end === "expired" ? "lease expired" : "released"); // "lease expired"
 * ```
 */
export type DeliveryEnd = "expired" | "released";

/**
 * One delivery of a task that ended without a settlement (see the record's `pastDeliveries`).
 *
 * @example
 * ```ts
 * import type { PastDelivery } from "@qtasks/qtasks/ports";
 *
 * const first: PastDelivery = {
 *   delivery: 1,
 *   workerId: "host-1:4242:ab12",
 *   startedAt: new Date("2026-12-07T10:00:00Z"),
 *   endedAt: new Date("2026-12-07T10:00:30Z"),
 *   end: "expired",
 * };
 * console.log(`delivery ${first.delivery} ${first.end}`); // "delivery 1 expired"
 * ```
 */
export interface PastDelivery {
  /** Which delivery it was: 1 for the first claim. */
  delivery: number;
  /** The worker that held it, when known. */
  workerId?: string;
  /** When that worker started it, when known. */
  startedAt?: Date;
  /** When the backend put it back in its queue (server time). */
  endedAt: Date;
  /** Why it ended. */
  end: DeliveryEnd;
}

/**
 * The most entries `past_deliveries` keeps: older ones are dropped (the record's `deliveries`
 * still counts them all).
 *
 * @example
 * ```ts
 * import { MAX_PAST_DELIVERIES } from "@qtasks/qtasks/ports";
 *
 * console.log(MAX_PAST_DELIVERIES); // 20
 * ```
 */
export const MAX_PAST_DELIVERIES = 20;

/** One stored entry: the JSON the Redis scripts write too (cjson, in requeue). */
interface StoredEntry {
  n?: unknown;
  worker?: unknown;
  started_at?: unknown;
  ended_at?: unknown;
  end?: unknown;
}

/**
 * The `past_deliveries` field with one more entry, the oldest dropped past
 * {@linkcode MAX_PAST_DELIVERIES}: what the memory and PostgreSQL backends write when they put a
 * running task back in its queue (the Redis scripts do the same in Lua).
 *
 * @param previous The field's current text, if any (a malformed one starts over).
 * @param fields The record's `deliveries`, `worker_id` and `started_at` before the requeue.
 * @param endedAt The server time now, as unix seconds text (the record's time format).
 * @param end Why the delivery ended.
 * @returns The field's new text.
 *
 * @example
 * ```ts
 * import { appendPastDelivery } from "@qtasks/qtasks/ports";
 *
 * const text = appendPastDelivery(undefined, { deliveries: "1", worker_id: "w1" }, "1700000000.5", "released");
 * console.log(text); // [{"n":1,"worker":"w1","started_at":"","ended_at":"1700000000.5","end":"released"}]
 * ```
 */
export function appendPastDelivery(
  previous: string | undefined,
  fields: { deliveries?: string; worker_id?: string; started_at?: string },
  endedAt: string,
  end: DeliveryEnd,
): string {
  let entries: StoredEntry[] = [];
  if (previous) {
    try {
      const parsed: unknown = JSON.parse(previous);
      if (Array.isArray(parsed)) entries = parsed as StoredEntry[];
    } catch {
      // A malformed field is a lost hint, not a reason to fail a requeue: start over.
    }
  }
  entries.push({
    n: Number(fields.deliveries ?? 0) || 0,
    worker: fields.worker_id ?? "",
    started_at: fields.started_at ?? "",
    ended_at: endedAt,
    end,
  });
  return JSON.stringify(entries.slice(-MAX_PAST_DELIVERIES));
}

/**
 * The past deliveries of a record's `past_deliveries` field, oldest first: `undefined` when the
 * field is absent or malformed (malformed entries are skipped).
 *
 * @param text The field's value.
 * @returns The entries, or `undefined`.
 *
 * @example
 * ```ts
 * import { parsePastDeliveries } from "@qtasks/qtasks/ports";
 *
 * const [entry] = parsePastDeliveries(
 *   '[{"n":1,"worker":"w1","started_at":"1700000000","ended_at":"1700000030","end":"expired"}]',
 * )!;
 * console.log(entry.delivery, entry.end, entry.endedAt.toISOString()); // 1 "expired" "2023-11-14T22:13:50.000Z"
 * ```
 */
export function parsePastDeliveries(text: string | undefined): PastDelivery[] | undefined {
  if (!text) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const out: PastDelivery[] = [];
  for (const item of parsed as StoredEntry[]) {
    if (item === null || typeof item !== "object") continue;
    const endedAt = secondsToDate(item.ended_at);
    if (endedAt === undefined || (item.end !== "expired" && item.end !== "released")) continue;
    const entry: PastDelivery = { delivery: Number(item.n) || 0, endedAt, end: item.end };
    if (typeof item.worker === "string" && item.worker !== "") entry.workerId = item.worker;
    const startedAt = secondsToDate(item.started_at);
    if (startedAt !== undefined) entry.startedAt = startedAt;
    out.push(entry);
  }
  return out.length > 0 ? out : undefined;
}

function secondsToDate(value: unknown): Date | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) ? new Date(Math.round(seconds * 1000)) : undefined;
}

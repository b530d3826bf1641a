/**
 * The record fields the exchange script's claim reads, shared with the scripts that write
 * records. Every claim reads {@linkcode CLAIM_FIELDS} and the marker
 * {@linkcode PLAIN_CLAIM_FIELD}; only a record without the marker also has its
 * {@linkcode OPTIONAL_CLAIM_FIELDS} read (a second HMGET).
 *
 * The marker is written by enqueue_bulk on a record that has none of the optional fields (no
 * retry or flow, no named queue, deadline, delay or concurrency limit: most tasks), so that a
 * claim asks Redis for 8 fields instead of 16: each field of an HMGET called from Lua costs about
 * 2,000 redis-server instructions (the argument, the lookup, the Lua string of the reply), and
 * a plain task's claim reads 7 fields fewer (issue 17, "Cost"). The marker is safe by default: a
 * record without it (written by a retry, a flow step, an operator's retry, or a version before
 * it) is read in full. A script that adds an optional field to an existing record must delete
 * the marker, and a retry's new record does not copy it (it is one of the attempt's fields,
 * src/model/_attempt_fields.ts). Internal.
 *
 * @module
 */

/** The marker: "1" on a record that has none of {@linkcode OPTIONAL_CLAIM_FIELDS}. */
export const PLAIN_CLAIM_FIELD = "plain_claim";

/** The fields every claim reads, in this order (the script indexes the reply by position). */
export const CLAIM_FIELDS: readonly string[] = Object.freeze([
  "task_name",
  "args",
  "kwargs",
  "deliveries",
  "status",
  "created_at",
  "headers",
]);

/**
 * The fields a claim reads only on a record without the marker, in this order (the script
 * indexes the reply by position). A field added here must also keep enqueue_bulk from marking a
 * record that has it (it checks the pairs it writes against this list).
 */
export const OPTIONAL_CLAIM_FIELDS: readonly string[] = Object.freeze([
  "retry",
  "attempt",
  "flow",
  "queue",
  "expires_at",
  "run_at",
  "conc_slot",
  "conc_limit",
]);

/**
 * The fields as the arguments of a Lua call (`'a', 'b'`).
 *
 * @param fields Field names (plain identifiers).
 * @returns The Lua source.
 */
export function luaFieldArgs(fields: readonly string[]): string {
  return fields.map((field) => `'${field}'`).join(", ");
}

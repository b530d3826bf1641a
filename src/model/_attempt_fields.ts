/**
 * The record fields that describe one attempt of a task, not the task: a retry's new record
 * (the worker's retry, or an operator's `retry`) copies every other field and starts without
 * these. One list for both backends: the memory broker reads the sets, the Redis scripts embed
 * the Lua tables built from them. Internal.
 *
 * @module
 */

/** Fields a worker's retry (the `retry` settlement) does not copy to the next attempt. */
export const ATTEMPT_FIELDS: readonly string[] = Object.freeze([
  "status",
  "created_at",
  "updated_at",
  "started_at",
  "finished_at",
  "returning",
  "traceback",
  "error_type",
  "error_message",
  "error_code",
  "cancel_reason",
  "cancel_requested",
  "deliveries",
  "rate_deferred",
  "past_deliveries",
  "worker_id",
  "seq",
  "run_at",
  "retry",
  "retry_parent_uuid",
  "retry_child_uuid",
  "attempt",
  "logs",
  "logs_dropped",
  // Redis: the record has none of the optional claim fields (a retry's record has some).
  "plain_claim",
]);

/** Fields an operator's `retry` does not copy: an attempt's fields and its last progress. */
export const OPERATOR_RETRY_DROPPED_FIELDS: readonly string[] = Object.freeze([
  ...ATTEMPT_FIELDS,
  "progress",
]);

/**
 * A Lua table literal with each name as a key (`{ status = 1, … }`), for a script to test
 * membership with `SET[field]`.
 *
 * @param names Field names (identifiers).
 * @returns The Lua source of the table.
 */
export function luaSet(names: readonly string[]): string {
  return `{ ${names.map((name) => `${name} = 1`).join(", ")} }`;
}

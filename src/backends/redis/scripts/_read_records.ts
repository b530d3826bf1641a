import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import { replyArray, replyPairs } from "./_reply.ts";

/**
 * Reads many task records in one call: the result waiters woken in one turn (by the events
 * channel, or right after their enqueue) read their records together, one command instead of one
 * HGETALL each.
 */
export const readRecordsScript: RedisScript = new RedisScript(
  "read_records",
  `--[[ read_records: HGETALL of every key, in one atomic step.
KEYS[1..n] task records ("{app}:task:<uuid>")
ARGV: none
Returns one flat field/value list per key, in KEYS order (empty for a missing record). ]]
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('HGETALL', key) end
return out
`,
  -1,
);

/**
 * KEYS and ARGV of a read.
 *
 * @param recordKeys Task record keys (all of one app: one hash slot).
 * @returns The call.
 */
export function encodeReadRecords(recordKeys: readonly string[]): ScriptCall {
  return { keys: [...recordKeys], args: [] };
}

/**
 * The fields of each record, in the order of the keys (`{}` for a missing one).
 *
 * @param reply The script's reply.
 * @param count How many keys were read.
 * @returns One object of fields per key.
 * @throws {BackendError} When the reply is not an array of `count` items.
 */
export function decodeReadRecords(reply: RedisReply, count: number): Record<string, string>[] {
  return replyArray("read_records", reply, count).map((fields) => replyPairs(fields));
}

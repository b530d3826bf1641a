import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import { replyInteger } from "./_reply.ts";

/** Deletes the given task records that are finished (never a queued or running one). */
export const deleteFinishedScript: RedisScript = new RedisScript(
  "delete_finished",
  `--[[ delete_finished: delete the task records among KEYS whose status is final.
KEYS[1..n] task records ("{app}:task:<uuid>", found by SCAN)
ARGV: none
Returns how many records were deleted; a "new" or "process" record is never touched. ]]
local deleted = 0
for _, key in ipairs(KEYS) do
  local status = redis.call('HGET', key, 'status')
  if status and status ~= 'new' and status ~= 'process' then
    deleted = deleted + redis.call('DEL', key)
  end
end
return deleted
`,
  -1,
);

/**
 * KEYS and ARGV of a deletion.
 *
 * @param recordKeys Task record keys (a SCAN batch).
 * @returns The call.
 */
export function encodeDeleteFinished(recordKeys: string[]): ScriptCall {
  return { keys: recordKeys, args: [] };
}

/**
 * How many records were deleted.
 *
 * @param reply The script's reply.
 * @returns The count.
 * @throws {BackendError} When the reply is not an integer.
 */
export function decodeDeleteFinished(reply: RedisReply): number {
  return replyInteger("delete_finished", reply);
}

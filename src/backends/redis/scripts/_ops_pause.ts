import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import type { RedisKeys } from "../redis_keys.ts";
import { replyInteger } from "./_reply.ts";
import { INDEX_LUA, INDEX_QUERY_LUA } from "./_index_lua.ts";

/** Pauses or resumes the app or one task name. */
export const opsPauseScript: RedisScript = new RedisScript(
  "ops_pause",
  `--[[ ops_pause: pause or resume the app ("*") or one task name. {app}:paused is a HASH whose
fields are the paused names; the exchange reads it once per call: with "*" it claims nothing,
and a claimed entry of a paused name goes to {app}:parked:<name> instead (_index_lua.ts). A
resume puts the parked entries back into the queue (those whose record still waits), with their
priority and seq, and sets the marker so that idle workers claim them at once.
KEYS none (every key is under the app's hash tag, built from ARGV[1])
ARGV[1] prefix of record keys ("{app}:task:")
ARGV[2] "pause" or "resume"
ARGV[3] "*" (the app) or a task name
Returns how many parked tasks went back to the queue (0 for a pause). ]]
local prefix = ARGV[1]
local now = 0
${INDEX_LUA}
${INDEX_QUERY_LUA}
if ARGV[2] == 'pause' then
  redis.call('HSET', IP .. 'paused', ARGV[3], '1')
  return 0
end
redis.call('HDEL', IP .. 'paused', ARGV[3])
local moved = 0
if ARGV[3] ~= '*' then
  local parked = IP .. 'parked:' .. ARGV[3]
  local entries = redis.call('ZRANGE', parked, 0, -1, 'WITHSCORES')
  for k = 1, #entries, 2 do
    local uuid = string.sub(entries[k], 17)
    local r = redis.call('HMGET', prefix .. uuid, 'status', 'queue')
    if r[1] == 'new' then
      -- Back to its queue (a named one's marker is set too).
      local named = r[2] and ':' .. r[2] or ''
      redis.call('ZADD', IP .. 'queue' .. named, entries[k + 1], entries[k])
      if r[2] then redis.call('ZADD', IP .. 'marker' .. named, 0, '0') end
      moved = moved + 1
    end
  end
  redis.call('DEL', parked)
end
redis.call('ZADD', IP .. 'marker', 0, '0')
return moved
`,
  0,
);

/**
 * KEYS and ARGV of a pause or resume.
 *
 * @param keys The app's keys.
 * @param action `pause` or `resume`.
 * @param taskName A task name, or undefined for the app.
 * @returns The call.
 */
export function encodeOpsPause(
  keys: RedisKeys,
  action: "pause" | "resume",
  taskName: string | undefined,
): ScriptCall {
  return { keys: [], args: [keys.taskPrefix, action, taskName ?? "*"] };
}

/**
 * How many parked tasks went back to the queue.
 *
 * @param reply The script's reply.
 * @returns The count.
 * @throws {BackendError} When the reply is not an integer.
 */
export function decodeOpsPause(reply: RedisReply): number {
  return replyInteger("ops_pause", reply);
}

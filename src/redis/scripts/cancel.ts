import { RedisScript } from "../redis_script.ts";

/** Cancels a queued task at once, or asks the worker running it to stop. */
export const cancelScript: RedisScript = new RedisScript(
  "cancel",
  `--[[ cancel: cancel a queued task at once, or flag a running one and tell its worker.
KEYS[1] queue      ZSET  score = priority, member = 15-digit seq .. ":" .. uuid
KEYS[2] quarantine ZSET  like the queue (tasks recovered from a dead worker)
KEYS[3] record     HASH  the task's record
ARGV[1] uuid
ARGV[2] reason
ARGV[3] result ttl ms
ARGV[4] events channel ("<uuid> <status>" on status changes)
ARGV[5] control channel ("cancel <uuid> <reason>" tells the workers)
Returns "cancelled" (it was queued: it will never run), "cancelling" (it is running: its worker
aborts it and settles it as cancel), "finished" (already final: unchanged) or "missing". ]]
local r = redis.call('HMGET', KEYS[3], 'status', 'seq')
if not r[1] then return 'missing' end
if r[1] == 'new' then
  local t = redis.call('TIME')
  local stamp = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
  local member = string.format('%015d', tonumber(r[2]) or 0) .. ':' .. ARGV[1]
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZREM', KEYS[2], member)
  redis.call('HSET', KEYS[3], 'status', 'cancel', 'cancel_reason', ARGV[2], 'updated_at', stamp,
    'finished_at', stamp)
  redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[3]))
  redis.call('PUBLISH', ARGV[4], ARGV[1] .. ' cancel')
  return 'cancelled'
end
if r[1] == 'process' then
  redis.call('HSET', KEYS[3], 'cancel_requested', ARGV[2])
  redis.call('PUBLISH', ARGV[5], 'cancel ' .. ARGV[1] .. ' ' .. ARGV[2])
  return 'cancelling'
end
return 'finished'
`,
  3,
);

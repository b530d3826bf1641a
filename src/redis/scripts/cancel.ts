import { RedisScript } from "../redis_script.ts";

/** Cancels a queued or scheduled task at once, or asks the worker running it to stop. */
export const cancelScript: RedisScript = new RedisScript(
  "cancel",
  `--[[ cancel: cancel a queued or scheduled task at once, or flag a running one and tell its worker.
KEYS[1] queue      ZSET  score = priority, member = 15-digit seq .. ":" .. uuid
KEYS[2] quarantine ZSET  like the queue (tasks recovered from a dead worker)
KEYS[3] record     HASH  the task's record
KEYS[4] scheduled  ZSET  tasks not yet due: score = due time, member as in the queue
ARGV[1] uuid
ARGV[2] reason
ARGV[3] result ttl ms
ARGV[4] events channel ("<uuid> <status>" on status changes)
ARGV[5] control channel ("cancel <uuid> <reason>" tells the workers)
ARGV[6] prefix of record keys ("{app}:task:")
A record with status "retry" is followed to its retry_child_uuid (at most 1000 links), so that
cancelling the first task of a retry chain cancels its latest attempt (an expired one: "finished").
Returns "cancelled" (it was queued or scheduled: it will never run), "cancelling" (it is running:
its worker aborts it and settles it as cancel), "finished" (already final: unchanged) or
"missing". ]]
local uuid, key = ARGV[1], KEYS[3]
local r = redis.call('HMGET', key, 'status', 'seq', 'retry_child_uuid')
for _ = 1, 1000 do
  if r[1] ~= 'retry' or not r[3] then break end
  uuid = r[3]
  key = ARGV[6] .. uuid
  r = redis.call('HMGET', key, 'status', 'seq', 'retry_child_uuid')
end
if not r[1] then return uuid == ARGV[1] and 'missing' or 'finished' end
if r[1] == 'new' then
  local t = redis.call('TIME')
  local stamp = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
  local member = string.format('%015d', tonumber(r[2]) or 0) .. ':' .. uuid
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZREM', KEYS[2], member)
  redis.call('ZREM', KEYS[4], member)
  redis.call('HSET', key, 'status', 'cancel', 'cancel_reason', ARGV[2], 'updated_at', stamp,
    'finished_at', stamp)
  redis.call('PEXPIRE', key, tonumber(ARGV[3]))
  redis.call('PUBLISH', ARGV[4], uuid .. ' cancel')
  return 'cancelled'
end
if r[1] == 'process' then
  redis.call('HSET', key, 'cancel_requested', ARGV[2])
  redis.call('PUBLISH', ARGV[5], 'cancel ' .. uuid .. ' ' .. ARGV[2])
  return 'cancelling'
end
return 'finished'
`,
  4,
);

import { RedisScript } from "../redis_script.ts";

/** Stores a running task's progress, if the reporting worker still holds that delivery. */
export const reportProgressScript: RedisScript = new RedisScript(
  "report_progress",
  `--[[ report_progress: store a running task's progress; only the owner's current delivery may.
KEYS[1] leases  ZSET  score = lease deadline (ms, server time),
                      member = uuid .. "|" .. worker id .. "|" .. deliveries (the lease token)
KEYS[2] record  HASH  the task's record
ARGV[1] uuid
ARGV[2] worker id
ARGV[3] deliveries (the lease token)
ARGV[4] progress (JSON text), stored in the field "progress"
ARGV[5] events channel: "<uuid> progress" is published, so waiters can be told
Returns 1 when stored, 0 when that worker no longer holds that delivery (nothing written). ]]
if not redis.call('ZSCORE', KEYS[1], ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[3]) then return 0 end
local t = redis.call('TIME')
redis.call('HSET', KEYS[2], 'progress', ARGV[4],
  'updated_at', t[1] .. '.' .. string.format('%06d', tonumber(t[2])))
redis.call('PUBLISH', ARGV[5], ARGV[1] .. ' progress')
return 1
`,
  2,
);

import { RedisScript } from "../redis_script.ts";

/** Deletes a batch of finished task records. */
export const deleteFinishedScript: RedisScript = new RedisScript(
  "delete_finished",
  `--[[ delete_finished: delete up to ARGV[2] finished task records (never a queued or running one).
KEYS[1] finished  ZSET  score = finish time (ms), member = uuid
ARGV[1] prefix of record keys ("{app}:task:")
ARGV[2] batch size
Returns { entries taken from the index, records deleted }. ]]
local uuids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
local deleted = 0
for _, uuid in ipairs(uuids) do
  local key = ARGV[1] .. uuid
  local status = redis.call('HGET', key, 'status')
  if status and status ~= 'new' and status ~= 'process' then
    deleted = deleted + redis.call('DEL', key)
  end
  redis.call('ZREM', KEYS[1], uuid)
end
return { #uuids, deleted }
`,
  1,
);

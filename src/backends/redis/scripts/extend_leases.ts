import { RedisScript } from "../redis_script.ts";

/** Renews the leases a worker still holds. */
export const extendLeasesScript: RedisScript = new RedisScript(
  "extend_leases",
  `--[[ extend_leases: renew the leases a worker still holds.
KEYS[1] leases  ZSET  score = lease deadline (ms, server time),
                      member = uuid .. "|" .. worker id .. "|" .. deliveries
ARGV[1] prefix of record keys ("{app}:task:")
ARGV[2] worker id
ARGV[3] lease duration ms
ARGV[4..] uuid, deliveries pairs
Returns { lost, cancelled }: the uuids whose lease the worker no longer holds, and uuid/reason
pairs of held tasks whose cancel was requested (in case the control message was missed). ]]
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
local lost, cancelled = {}, {}
for i = 4, #ARGV, 2 do
  local uuid = ARGV[i]
  local member = uuid .. '|' .. ARGV[2] .. '|' .. ARGV[i + 1]
  if redis.call('ZSCORE', KEYS[1], member) then
    redis.call('ZADD', KEYS[1], 'XX', deadline, member)
    local reason = redis.call('HGET', ARGV[1] .. uuid, 'cancel_requested')
    if reason then
      cancelled[#cancelled + 1] = uuid
      cancelled[#cancelled + 1] = reason
    end
  else
    lost[#lost + 1] = uuid
  end
end
return { lost, cancelled }
`,
  1,
);

import { RedisScript } from "../redis_script.ts";

/** Counts the queued tasks per priority, and the quarantined, scheduled and leased ones. */
export const queueStatsScript: RedisScript = new RedisScript(
  "queue_stats",
  `--[[ queue_stats: queue depth per priority, without reading the members.
KEYS[1] queue       ZSET  score = priority, member = seq:uuid
KEYS[2] quarantine  ZSET  like the queue
KEYS[3] scheduled   ZSET  score = due time (ms)
KEYS[4] leases      ZSET  claimed tasks (running or claimed ahead)
ARGV[1] most distinct priorities to count (the rest are summed into the last one counted)
Returns { { priority, count, ... }, quarantined, scheduled, leased }: each distinct score is
found with one ZRANGEBYSCORE ... LIMIT 0 1 and counted with ZCOUNT (log N each). ]]
local depth = {}
local from = '-inf'
for i = 1, tonumber(ARGV[1]) do
  local head = redis.call('ZRANGEBYSCORE', KEYS[1], from, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #head == 0 then break end
  local score = head[2]
  local to = score
  if i == tonumber(ARGV[1]) then to = '+inf' end
  depth[#depth + 1] = score
  depth[#depth + 1] = redis.call('ZCOUNT', KEYS[1], score, to)
  from = '(' .. score
end
return { depth, redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]), redis.call('ZCARD', KEYS[4]) }
`,
  4,
);

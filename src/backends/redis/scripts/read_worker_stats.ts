import { RedisScript } from "../redis_script.ts";

/** Reads the live workers' records, the app's counters and the last minute's buckets. */
export const readWorkerStatsScript: RedisScript = new RedisScript(
  "read_worker_stats",
  `--[[ read_worker_stats: one consistent read of the worker side of an app's stats.
KEYS[1] workers        ZSET  live workers: score = record expiry (ms, server time), member = worker id
KEYS[2] totals         HASH  the app's counters: processed, failed
KEYS[3] bucket prefix  the throughput bucket of server time t is the HASH KEYS[3] .. floor(t / 10000) * 10
KEYS[4] worker prefix  a worker's record is the HASH KEYS[4] .. worker id
ARGV[1] buckets to sum (the current one and those before it)
Returns { now (ms), totals (field, value pairs), { processed, failed } of the buckets,
          { worker id, record (field, value pairs), ... } } for the live workers, oldest first. ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
local workers = {}
for _, id in ipairs(ids) do
  local record = redis.call('HGETALL', KEYS[4] .. id)
  if #record > 0 then
    workers[#workers + 1] = id
    workers[#workers + 1] = record
  end
end
local current = math.floor(now / 10000) * 10
local processed, failed = 0, 0
for i = 0, tonumber(ARGV[1]) - 1 do
  local counts = redis.call('HMGET', KEYS[3] .. tostring(current - i * 10), 'processed', 'failed')
  processed = processed + (tonumber(counts[1]) or 0)
  failed = failed + (tonumber(counts[2]) or 0)
end
return { now, redis.call('HGETALL', KEYS[2]), { processed, failed }, workers }
`,
  4,
);

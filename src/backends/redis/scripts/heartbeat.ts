import { RedisScript } from "../redis_script.ts";

/** Records, removes or checks the heartbeat of a GlobalConfig instance. */
export const heartbeatScript: RedisScript = new RedisScript(
  "heartbeat",
  `--[[ heartbeat: record, remove or check the liveness of an app's running instances.
KEYS[1] heartbeats  ZSET  score = expiry (ms, server time), member = instance id
KEYS[2] main        HASH  QTasks' status hash: name, status = "running" while any instance lives
ARGV[1] mode: "beat", "stop" or "check"
ARGV[2] instance id
ARGV[3] ttl ms
ARGV[4] app name
Returns the number of live instances (after the change). ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[1] == 'beat' then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  redis.call('HSET', KEYS[2], 'name', ARGV[4], 'status', 'running')
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
elseif ARGV[1] == 'stop' then
  redis.call('ZREM', KEYS[1], ARGV[2])
end
local live = redis.call('ZCARD', KEYS[1])
if live == 0 then redis.call('DEL', KEYS[2]) end
return live
`,
  2,
);

import { RedisScript } from "../redis_script.ts";

/** Stores a new task record and queues it, atomically; wakes one idle worker. */
export const enqueueScript: RedisScript = new RedisScript(
  "enqueue",
  `--[[ enqueue: store a task record and queue it, in one atomic step.
KEYS[1] queue    ZSET   score = priority, member = 15-digit seq .. ":" .. uuid
KEYS[2] marker   ZSET   wake-up marker for blocked workers
KEYS[3] seq      STRING sequence counter (FIFO order within a priority)
KEYS[4] record   HASH   the task's record
ARGV[1] uuid
ARGV[2] priority (integer)
ARGV[3] task name
ARGV[4] args (JSON array)
ARGV[5] kwargs (JSON object)
ARGV[6..] field/value pairs of extra fields (written first: they never replace a QTasks field)
Returns the sequence number, or a DUPLICATE_TASK error when the uuid exists already. ]]
if redis.call('EXISTS', KEYS[4]) == 1 then
  return redis.error_reply('DUPLICATE_TASK task ' .. ARGV[1] .. ' exists already')
end
local t = redis.call('TIME')
local stamp = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
local seq = redis.call('INCR', KEYS[3])
if #ARGV > 5 then redis.call('HSET', KEYS[4], unpack(ARGV, 6)) end
redis.call('HSET', KEYS[4], 'task_name', ARGV[3], 'args', ARGV[4], 'kwargs', ARGV[5],
  'status', 'new', 'priority', ARGV[2], 'created_at', stamp, 'updated_at', stamp, 'seq', seq,
  'deliveries', 0)
redis.call('ZADD', KEYS[1], ARGV[2], string.format('%015d', seq) .. ':' .. ARGV[1])
redis.call('ZADD', KEYS[2], 0, '0')
return seq
`,
  4,
);

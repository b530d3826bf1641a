import { RedisScript } from "../redis_script.ts";

/** Stores and queues many tasks in one atomic step. */
export const enqueueBulkScript: RedisScript = new RedisScript(
  "enqueue_bulk",
  `--[[ enqueue_bulk: store and queue many tasks, in one atomic step (all or none).
KEYS[1] queue    ZSET   score = priority, member = 15-digit seq .. ":" .. uuid
KEYS[2] marker   ZSET   wake-up marker for blocked workers
KEYS[3] seq      STRING sequence counter (FIFO order within a priority)
ARGV[1] prefix of record keys ("{app}:task:")
ARGV[2] "1" to skip the uuids that exist already and report them, "0" to refuse the whole batch
ARGV[3] number of tasks T, followed by T tasks, each:
        uuid, priority, task name, args (JSON), kwargs (JSON), n, n extra field/value pairs
Returns the uuids skipped because they exist (mode "1"), or a DUPLICATE_TASK error with nothing
written (mode "0"). ]]
local prefix, skip = ARGV[1], ARGV[2] == '1'
local tasks, skipped, i = {}, {}, 4
for _ = 1, tonumber(ARGV[3]) do
  local n = tonumber(ARGV[i + 5])
  local key = prefix .. ARGV[i]
  if redis.call('EXISTS', key) == 1 then
    if not skip then
      return redis.error_reply('DUPLICATE_TASK task ' .. ARGV[i] .. ' exists already')
    end
    skipped[#skipped + 1] = ARGV[i]
  else
    tasks[#tasks + 1] = { i, n, key }
  end
  i = i + 6 + 2 * n
end
local t = redis.call('TIME')
local stamp = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
-- One INCRBY reserves a sequence number for every task of the batch.
local first = #tasks > 0 and redis.call('INCRBY', KEYS[3], #tasks) - #tasks or 0
for k, task in ipairs(tasks) do
  local j, n, key = task[1], task[2], task[3]
  local seq = first + k
  if n > 0 then redis.call('HSET', key, unpack(ARGV, j + 6, j + 5 + 2 * n)) end
  redis.call('HSET', key, 'task_name', ARGV[j + 2], 'args', ARGV[j + 3], 'kwargs', ARGV[j + 4],
    'status', 'new', 'priority', ARGV[j + 1], 'created_at', stamp, 'updated_at', stamp,
    'seq', seq, 'deliveries', 0)
  redis.call('ZADD', KEYS[1], ARGV[j + 1], string.format('%015d', seq) .. ':' .. ARGV[j])
end
if #tasks > 0 then redis.call('ZADD', KEYS[2], 0, '0') end
return skipped
`,
  3,
);

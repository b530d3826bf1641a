/**
 * The Lua part of deduplication (the `deduplication` option, docs/flow-control.md), run by
 * enqueue_bulk (_enqueue_bulk.ts) in the same atomic step as the enqueue, only for the tasks that
 * carry one: a task without it costs the script one `ARGV` lookup per call and one nil test per
 * task.
 *
 * Keys (under the app's hash tag, so one Redis Cluster slot):
 * - `{N}:dedup:<length of the task name>:<task name>:<id>` STRING, the uuid of the task that
 *   holds the id, with a time to live (`PX`, server time): set by the call that stores a task,
 *   its time to live set again (`PEXPIRE`) by a debounce that joins. The key is never deleted
 *   when its task ends: it lives its time to live, but a key whose record is gone (deleted,
 *   expired) or has status `cancel` is free (the next call stores its task and takes the key).
 *
 * ARGV of enqueue_bulk, after its T tasks (absent when no task of the call deduplicates):
 * D, the number of entries, then D entries of 4: the ARGV index of the task's uuid, its id, its
 * time to live (ms), its mode (`throttle` or `debounce`).
 *
 * A debounce that gives a waiting task a deadline or a delay deletes the record's
 * `plain_claim` marker (_claim_fields.ts), so that its claim reads `expires_at` and `run_at`.
 *
 * The host script defines before it `prefix` (the record key prefix), `now` and `stamp` (server
 * time), `idxMove` (_index_lua.ts), `skipped` (its reply), and passes the key prefix
 * `{N}:dedup:` as KEYS[6], the queue, marker and schedule as KEYS[1], KEYS[2] and KEYS[4].
 *
 * @module
 */
import { PLAIN_CLAIM_FIELD } from "./_claim_fields.ts";

/** The Lua source (see the module's documentation). */
export const DEDUP_LUA = `
-- Deduplication (see _dedup_lua.ts).
-- The entries after the tasks, by the ARGV index of their task's uuid (nil: none).
local function dedupRead(i)
  local entries = {}
  for x = i + 1, i + 4 * tonumber(ARGV[i]), 4 do
    entries[tonumber(ARGV[x])] = { ARGV[x + 1], ARGV[x + 2], ARGV[x + 3] }
  end
  return entries
end

-- A debounce: the waiting task "held" (record key hkey; m = its status, seq, priority, queue,
-- task name and expires_at) takes the arguments, delay and deadline of the task at ARGV index
-- j. Queued or scheduled, it moves by the new delay; parked (paused, concurrency-limited,
-- quarantined), it keeps its place.
local function dedupReplace(j, hkey, held, m)
  local n = tonumber(ARGV[j + 6])
  local e = (n > 0 and ARGV[j + 7] == 'queue') and j + 9 or j + 7
  local expires = n > 0 and ARGV[e] == 'expires_at' and tonumber(ARGV[e + 1]) or nil
  local delay = tonumber(ARGV[j + 5]) or 0
  redis.call('HSET', hkey, 'args', ARGV[j + 3], 'kwargs', ARGV[j + 4], 'updated_at', stamp)
  if expires then
    -- A field a marked claim would not read: the marker goes (_claim_fields.ts).
    redis.call('HSET', hkey, 'expires_at', string.format('%.3f', (now + expires) / 1000))
    redis.call('HDEL', hkey, '${PLAIN_CLAIM_FIELD}')
  elseif m[6] then
    redis.call('HDEL', hkey, 'expires_at')
  end
  local member = string.format('%015d', tonumber(m[2])) .. ':' .. held
  local named = m[4] and m[4] ~= '' and m[4] ~= 'default'
  local queue = named and KEYS[1] .. ':' .. m[4] or KEYS[1]
  local marker = named and KEYS[2] .. ':' .. m[4] or KEYS[2]
  if redis.call('ZSCORE', KEYS[4], member) then
    if delay > 0 then
      redis.call('ZADD', KEYS[4], now + delay, member)
      redis.call('HSET', hkey, 'run_at', string.format('%.3f', (now + delay) / 1000))
    else
      redis.call('ZREM', KEYS[4], member)
      redis.call('HDEL', hkey, 'run_at')
      redis.call('ZADD', queue, m[3], member)
      idxMove(held, m[5], m[2], 'scheduled', 'queued')
    end
  elseif delay > 0 and redis.call('ZREM', queue, member) == 1 then
    redis.call('ZADD', KEYS[4], now + delay, member)
    redis.call('HSET', hkey, 'run_at', string.format('%.3f', (now + delay) / 1000))
    redis.call('HDEL', hkey, '${PLAIN_CLAIM_FIELD}')
    idxMove(held, m[5], m[2], 'queued', 'scheduled')
  else
    return
  end
  -- A blocked worker wakes and reads the new due time (a spurious wake-up at worst).
  redis.call('ZADD', marker, 0, '0')
end

-- The task at ARGV index j (record key "key") with deduplication entry d: returns true when it
-- joins the live task holding its id (reported in "skipped" as { uuid, joined uuid }), storing
-- nothing; else takes the id and returns false: the caller stores it (its pairs carry dedup_id).
local function dedupJoin(j, key, d)
  local name = ARGV[j + 2]
  local dkey = KEYS[6] .. #name .. ':' .. name .. ':' .. d[1]
  local held = redis.call('GET', dkey)
  if held then
    local hkey = prefix .. held
    local m = redis.call('HMGET', hkey, 'status', 'seq', 'priority', 'queue', 'task_name',
      'expires_at')
    if m[1] and m[1] ~= 'cancel' then
      if d[3] ~= 'debounce' then
        skipped[#skipped + 1] = { ARGV[j], held }
        return true
      end
      if m[1] == 'new' then
        dedupReplace(j, hkey, held, m)
        redis.call('PEXPIRE', dkey, d[2])
        skipped[#skipped + 1] = { ARGV[j], held }
        return true
      end
    end
  end
  redis.call('SET', dkey, ARGV[j], 'PX', d[2])
  return false
end
`;

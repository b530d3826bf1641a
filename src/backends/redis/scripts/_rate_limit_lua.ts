/**
 * The Lua of rate limits (the task option `rateLimit`), embedded in the exchange script
 * (_exchange.ts, in the part it builds at first use, `more()`) after its `queueKey`, `wakeQueue`,
 * `requeue` and `scheduledHead`, and using its `prefix`, `now`, `stamp`, `head`, `listened`,
 * `rateNames` (the table of rate-limited task names the claim reads, which `rateLoadNames`
 * replaces) and KEYS. Internal.
 *
 * ## Algorithm: a sliding-window log per slot
 *
 * A limited record carries one field, `rate_limit` = `"<limit> <durationMs> <slot>"` (the slot is
 * the task name, or the name, ":" and the key computed at enqueue), and its task name is in the
 * SET `{app}:rate:names` (added by the enqueue script in the same atomic step as the record, so
 * that a claim that sees the record sees the name). An exchange that claims reads the SET once, before its claim,
 * and reads `rate_limit` only for
 * the tasks of those names: the records of other tasks cost one Lua table lookup each (an HMGET
 * of one more absent field would cost about 1,800 instructions per task: the record's listpack
 * is scanned to its end). The claim keeps, per slot, the
 * log of its starts in the window: a ZSET `{app}:rate:log:<slot>` (score = start, ms of Redis
 * server time; member = uuid ":" deliveries, one per delivery). A claim first drops the starts
 * older than `durationMs`; fewer than `limit` left: the task starts and its start is logged;
 * else the task is parked. So no window of `durationMs` (wherever it begins) ever holds more than
 * `limit` starts: the guarantee is exact, and since the log and the check are in one atomic
 * script on the server's clock, it holds across any number of workers and runtimes. A log holds
 * at most `limit` members and expires `durationMs` after its last start.
 *
 * Why not GCRA or a fixed window: a fixed window lets 2 × `limit` start across a window's edge,
 * and GCRA (one timestamp per slot, the cheapest) either allows a burst on top of the steady
 * rate (any window then sees up to about 2 × `limit`) or, without a burst, spaces every start by
 * `durationMs / limit`, which a worker that claims in batches cannot reach. The log costs
 * `limit` members of memory per busy slot and 4 commands per limited start, and bounds every
 * window exactly.
 *
 * ## Parking, and waking a slot
 *
 * A parked task keeps status `new` (listed as queued) and uses no delivery: its queue entry goes
 * to the ZSET `{app}:rate:wait:<slot>` (score = priority, member as in the queue, so the slot's
 * tasks keep their order), and the slot's spec (the `rate_limit` value) goes to the ZSET
 * `{app}:rate:due` with score = when its window has room (the oldest logged start +
 * `durationMs`; ZADD LT keeps the earliest). One member of the schedule (KEYS[5]),
 * {@linkcode RATE_WAKE}, is due at the earliest of those times: the exchange's mover of due
 * scheduled tasks meets it like any due task, and `rate().wake` then moves, for each due slot, as
 * many parked tasks back into their queues as its window has room for (a claim that still finds
 * it full parks them again), and re-arms the member. So a blocked worker wakes when a window has
 * room (the exchange's "next due" counts the member), and an exchange of an app without rate
 * limits does nothing more than before: no command, no field, no key.
 *
 * ## Remote limits
 *
 * `rate().defer` gives a running task back as a delayed one (a `release` settlement with a delay,
 * sent for a `RateLimitedError`): released as by `requeue` (its delivery recorded in
 * `past_deliveries`), then moved into the schedule with `run_at` set, and
 * `rate_deferred` counted, which recovery subtracts from `deliveries` before it compares with
 * `maxDeliveries` (a deferral is not a crash). The attempt is unchanged.
 *
 * @module
 */

import { PLAIN_CLAIM_FIELD } from "./_claim_fields.ts";

/**
 * The member of the schedule (KEYS[5]) that wakes the rate-limited slots whose window has room
 * (it is not a task: no 15-digit seq, no uuid).
 */
export const RATE_WAKE = "rate";

/**
 * Rate limits: the functions `rateLoadNames` (fills the host's `rateNames`) and `rateWoken`, and
 * `rate()`, the functions `take`, `undo`, `wake` and `defer` (built at their first use).
 */
export const RATE_LIMIT_LUA = `

-- Rate limits (see _rate_limit_lua.ts): per slot, the log of starts {app}:rate:log:<slot> (ZSET,
-- score = start ms), the parked entries {app}:rate:wait:<slot> (ZSET, as in the queue), and the
-- slots to wake {app}:rate:due (ZSET, member = the record's rate_limit, score = ms).
-- Reads the task names whose records may carry a rate limit into the host's "rateNames"
-- (rateNames[name] is true), before the claim.
local function rateLoadNames()
  local names = {}
  for _, n in ipairs(redis.call('SMEMBERS', string.sub(prefix, 1, -6) .. 'rate:names')) do
    names[n] = true
  end
  rateNames = names
end

-- The functions (take, undo, wake, defer), built at their first use in an exchange: an exchange
-- that meets no rate-limited task creates one closure here, not one per function.
local rateLib = nil
local function rate()
  if rateLib then return rateLib end
  local lib = {}
  local rateBase = string.sub(prefix, 1, -6) .. 'rate'

  -- A record's rate_limit: "<limit> <ms> <slot>".
  local function rateSpec(spec)
    local limit, ms, slot = string.match(spec, '^(%d+) (%d+) (.+)$')
    return tonumber(limit) or 1, tonumber(ms) or 1000, slot or spec
  end

  -- Wakes the slot of "spec" at "at" (ms) at the latest, through the schedule's member.
  local function rateDueAt(spec, at)
    redis.call('ZADD', rateBase .. ':due', 'LT', at, spec)
    redis.call('ZADD', KEYS[5], 'LT', at, '${RATE_WAKE}')
    head = false
  end

  -- The last start logged (uuid, log, member), for undo.
  local rateLast, rateLastLog, rateLastMember = nil, nil, nil

  -- Logs a start of the slot of the record "key" (its rate_limit; none: true) when its window
  -- has room (true), else parks the queue entry "member" (score "score") until it has (false).
  function lib.take(uuid, key, deliveries, member, score)
    local spec = redis.call('HGET', key, 'rate_limit')
    if not spec then return true end
    local limit, ms, slot = rateSpec(spec)
    local log = rateBase .. ':log:' .. slot
    redis.call('ZREMRANGEBYSCORE', log, '-inf', now - ms)
    if redis.call('ZCARD', log) >= limit then
      redis.call('ZADD', rateBase .. ':wait:' .. slot, score, member)
      rateDueAt(spec, tonumber(redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')[2]) + ms)
      return false
    end
    rateLast, rateLastLog, rateLastMember = uuid, log, uuid .. ':' .. (deliveries or '0')
    redis.call('ZADD', log, now, rateLastMember)
    redis.call('PEXPIRE', log, ms)
    return true
  end

  -- Takes back the start take logged for "uuid", if it was the last (the task was parked by its
  -- concurrency limit right after).
  function lib.undo(uuid)
    if rateLast == uuid then
      redis.call('ZREM', rateLastLog, rateLastMember)
      rateLast = nil
    end
  end

  -- Moves the parked tasks of the due slots back into their queues, as many per slot as its
  -- window has room for; re-arms the schedule's member for the slots that still have parked
  -- tasks.
  function lib.wake()
    local dueKey = rateBase .. ':due'
    for _, spec in ipairs(redis.call('ZRANGEBYSCORE', dueKey, '-inf', now, 'LIMIT', 0, 100)) do
      local limit, ms, slot = rateSpec(spec)
      local log, wait = rateBase .. ':log:' .. slot, rateBase .. ':wait:' .. slot
      redis.call('ZREMRANGEBYSCORE', log, '-inf', now - ms)
      local room = limit - redis.call('ZCARD', log)
      while room > 0 do
        local popped = redis.call('ZPOPMIN', wait, room)
        if #popped == 0 then break end
        for k = 1, #popped, 2 do
          local r = redis.call('HMGET', prefix .. string.sub(popped[k], 17), 'status', 'queue')
          if r[1] == 'new' then
            redis.call('ZADD', queueKey(r[2]), popped[k + 1], popped[k])
            wakeQueue(r[2])
            room = room - 1
          end
        end
      end
      redis.call('ZREM', dueKey, spec)
      if redis.call('EXISTS', wait) == 1 then
        local oldest = tonumber(redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')[2] or '') or now
        redis.call('ZADD', dueKey, oldest + ms, spec)
      end
    end
    local first = redis.call('ZRANGE', dueKey, 0, 0, 'WITHSCORES')
    if first[2] then redis.call('ZADD', KEYS[5], first[2], '${RATE_WAKE}') end
    head = false
  end

  -- Gives a running task back as a delayed one, "delay" ms from now (a remote rate limit): given
  -- back as a release is (requeue: status new, its delivery in past_deliveries), then moved from
  -- its queue into the schedule with run_at; rate_deferred counts it (recovery subtracts it).
  function lib.defer(key, uuid, delay)
    if not requeue(key, uuid, KEYS[1], 'released') then return end
    local r = redis.call('HMGET', key, 'priority', 'seq', 'task_name', 'queue')
    local member = string.format('%015d', tonumber(r[2])) .. ':' .. uuid
    local due = now + (tonumber(delay) or 0)
    redis.call('ZREM', queueKey(r[4]), member)
    idxMove(uuid, r[3], r[2], 'queued', 'scheduled')
    redis.call('HSET', key, 'run_at', string.format('%.3f', due / 1000))
    -- run_at is an optional claim field: the record is no longer plain (_claim_fields.ts).
    redis.call('HDEL', key, '${PLAIN_CLAIM_FIELD}')
    redis.call('HINCRBY', key, 'rate_deferred', 1)
    local earliest = scheduledHead()
    if not earliest or due < earliest then
      head = due
      wakeQueue(r[4])
    end
    redis.call('ZADD', KEYS[5], due, member)
  end

  rateLib = lib
  return lib
end

-- For the mover of due scheduled tasks: true when "member" is the rate limits' member (the due
-- slots are woken), false for a task's entry.
local function rateWoken(member)
  if member ~= '${RATE_WAKE}' then return false end
  rate().wake()
  return true
end
`;

/**
 * The Lua part of the operator's indexes, shared by every script that creates, moves or deletes
 * a task record (enqueue_bulk, exchange, cancel and the operations scripts), so that the indexes
 * change in the same atomic step as the status, with no extra round trip.
 *
 * Keys (all under the app's hash tag `{N}:`):
 * - `{N}:i:<status>:<task name>` ZSET, one per indexed status (scheduled, success, error,
 *   cancel, retry) and task name: score = the record's seq (enqueue order), member = uuid. A
 *   status across task names is read by merging the names' sets (a task name is one more key,
 *   a status of every name one more write per change). Queued tasks have no index: they are
 *   read from the queue, the quarantine and the parkings themselves (their members start with
 *   the seq) and counted per task name in `{N}:i:queued` (HASH name -> count, one HINCRBY per
 *   name per call). Running tasks are read from the leases (they all hold one). So a claim
 *   writes nothing to an index (it changes a counter in Lua) and a settle adds one ZADD entry;
 *   only the records of chains and groups, which hold no lease, are indexed as `running`
 *   (`{N}:i:running:@chain`);
 * - `{N}:i:names` SET of the task names that have records;
 * - `{N}:i:uuids` ZSET, score 0, member = uuid (prefix lookup with ZRANGEBYLEX).
 *
 * Finished records expire (PEXPIRE); their index entries are trimmed from the oldest end: a
 * script call that added k entries to a finished index (success, error, cancel, retry) looks at
 * the index's oldest entries when k >= 8 or one of the k seqs is a multiple of 8 (so about one
 * addition in 8 when calls add one entry), and removes those whose record is gone, up to 16 + 2k
 * (twice what it added and more, so trimming keeps pace), stopping at the first record that
 * exists; an index therefore never outgrows its records by more than a few entries per addition
 * (a record kept longer than the ones after it, such as a retry's, holds the trimming back until
 * it expires). Queries and counts trim the indexes they read the same way.
 * - `{N}:stream` pub/sub channel, the public event stream: one JSON message
 *   `{"uuid","taskName","status","at"}` per change, published only while it has a subscriber
 *   (one `PUBSUB NUMSUB` per script call that changed something).
 *
 * The host script defines before it `prefix` (the record key prefix `{N}:task:`) and `now`
 * (server time, ms); it calls `idxMove` for each change (or, on the exchange's hot path,
 * `idxClaim` and `idxFinish`, which do the same for a claim and a settlement with less Lua work)
 * and `idxFlush()` once, last, before it returns (it does not clear what it wrote: a second call
 * would write it again): the changes of one call are gathered per key (no
 * per-record bookkeeping; an entry added and removed again within the call is taken back) and
 * written as one ZREM and one ZADD per key.
 *
 * Cost (issue 17): this code runs for every task claimed and settled, so the hot path avoids Lua
 * function calls and `tonumber` of strings (glibc `strtod`): measured with callgrind on
 * redis-server (scripts/bench_exchange.ts), each one is hundreds of instructions per task.
 *
 * @module
 */
/**
 * The part of {@linkcode INDEX_LUA} every call runs: it declares the locals (`IP`, `idxMove`, ...),
 * defines `idxKey`, `idxEnter`, `idxClaim`, `idxFinish`, `idxTrimKey`, `idxFlush` and `idxPaused`,
 * and leaves `idxPublish`, `idxKept`, `idxTakeBack`, `idxLeave`, `idxMove` and `idxPark` to
 * {@linkcode INDEX_MORE_LUA}. Where it needs one of those and finds it unset, it calls the
 * host's `more()`, which must run INDEX_MORE_LUA (the exchange builds it at its first use).
 */
export const INDEX_CORE_LUA: string = `
-- Operator indexes (see _index_lua.ts).
local IP = string.sub(prefix, 1, -6)
local IDX_FINAL = { success = true, error = true, cancel = true, retry = true }
local idxListened = nil
-- Whether a task name is a flow record's ("@chain", "@group": indexed as running), per name, as
-- its first use computed it (nil: not yet; a plain table, no metatable or closure to create).
-- idxClaim, idxFinish and idxKept each repeat the five lines that fill it: a shared function would
-- be one more closure per script call (measured: +0.6% redis-server instructions per sequential
-- task, scripts/bench_exchange.ts --callgrind --sequential).
local idxFlowName = {}
-- The functions most calls do not need, assigned by INDEX_MORE_LUA (see _index_lua.ts).
local idxPublish, idxKept, idxTakeBack, idxLeave, idxMove, idxPark

-- Index keys, built once per status and name; idxFinalKey holds those of finished statuses
-- (trimmed by idxFlush).
local idxKeyCache, idxFinalKey = {}, {}
local function idxKey(status, name)
  local byName = idxKeyCache[status]
  if not byName then
    byName = {}
    idxKeyCache[status] = byName
  end
  local key = byName[name]
  if not key then
    key = IP .. 'i:' .. status .. ':' .. name
    byName[name] = key
    if IDX_FINAL[status] then idxFinalKey[key] = true end
  end
  return key
end

-- The pending writes of this call: ZADD arguments and ZREM members per key (in first-use
-- order), and the change of each task name's queued count.
local idxAdd, idxAddOrder, idxRem, idxRemOrder, idxQueued = {}, {}, {}, {}, {}
local idxNewNames = nil

local function idxEnter(key, seq, uuid)
  local list = idxAdd[key]
  if not list then
    list = {}
    idxAdd[key] = list
    idxAddOrder[#idxAddOrder + 1] = key
  end
  local n = #list
  list[n + 1] = seq
  list[n + 2] = uuid
end

-- A claim (a queued task starts running): idxMove(uuid, name, nil, 'queued', 'process') with
-- less work, for the exchange's claim loop.
local function idxClaim(uuid, name)
  local flow = idxFlowName[name]
  if flow == nil then
    flow = string.byte(name, 1) == 64
    idxFlowName[name] = flow
  end
  if flow or idxListened ~= false then
    if not idxMove then more() end
    return idxMove(uuid, name, nil, 'queued', 'process')
  end
  idxQueued[name] = (idxQueued[name] or 0) - 1
end

-- A settlement (a running task ends with final status "status"): idxMove from "process" with
-- less work. "name" and "seq" are the record's task_name and seq when the worker's settlement
-- carried them (nothing is read), else nil (they are read, with the status).
local function idxFinish(key, uuid, status, name, seq)
  if not (name and seq) then
    local m = redis.call('HMGET', key, 'task_name', 'seq', 'status')
    if not idxMove then more() end
    return idxMove(uuid, m[1], m[2], m[3], status)
  end
  local flow = idxFlowName[name]
  if flow == nil then
    flow = string.byte(name, 1) == 64
    idxFlowName[name] = flow
  end
  if flow or idxListened ~= false then
    if not idxMove then more() end
    return idxMove(uuid, name, seq, 'process', status)
  end
  local byName = idxKeyCache[status]
  local index = byName and byName[name] or idxKey(status, name)
  local list = idxAdd[index]
  if list then
    local n = #list
    list[n + 1] = seq
    list[n + 2] = uuid
  else
    idxEnter(index, seq, uuid)
  end
end

-- Removes up to "most" index entries of expired records from the oldest end of "key" (it stops
-- at the first record that exists); returns how many.
local function idxTrimKey(key, most)
  -- Most often the oldest record still exists: one entry read, nothing trimmed.
  local oldest = redis.call('ZRANGE', key, '0', '0')[1]
  if not oldest or redis.call('EXISTS', prefix .. oldest) == 1 then return 0 end
  local head = redis.call('ZRANGE', key, 0, most - 1)
  local gone = {}
  for _, uuid in ipairs(head) do
    if redis.call('EXISTS', prefix .. uuid) == 1 then break end
    gone[#gone + 1] = uuid
  end
  if #gone > 0 then
    redis.call('ZREM', key, unpack(gone))
    redis.call('ZREM', IP .. 'i:uuids', unpack(gone))
  end
  return #gone
end

-- Writes this call's changes (one ZREM and one ZADD per key, one HINCRBY per task name whose
-- queued count changed), then trims the finished indexes it added to (see the module's doc: when
-- the call added 8 entries or more, or one whose seq is a multiple of 8).
local function idxFlush()
  for _, key in ipairs(idxRemOrder) do
    local list = idxRem[key]
    for j = 1, #list, 1000 do redis.call('ZREM', key, unpack(list, j, math.min(j + 999, #list))) end
  end
  for _, key in ipairs(idxAddOrder) do
    local list = idxAdd[key]
    for j = 1, #list, 1000 do redis.call('ZADD', key, unpack(list, j, math.min(j + 999, #list))) end
  end
  for name, delta in pairs(idxQueued) do
    -- (A count of one as text: Redis formats a Lua number argument with snprintf.)
    if delta == 1 then delta = '1' elseif delta == -1 then delta = '-1' end
    if delta ~= 0 and redis.call('HINCRBY', IP .. 'i:queued', name, delta) <= 0 then
      -- Nothing of that name waits: no field (and, once every name is done, no key) is left.
      redis.call('HDEL', IP .. 'i:queued', name)
    end
  end
  if idxNewNames then
    local list = {}
    for name in pairs(idxNewNames) do list[#list + 1] = name end
    redis.call('SADD', IP .. 'i:names', unpack(list))
  end
  for _, key in ipairs(idxAddOrder) do
    local list = idxAdd[key]
    local k = #list / 2
    if idxFinalKey[key] and k > 0 then
      local due = k >= 8
      for j = 1, #list, 2 do
        if due then break end
        due = tonumber(list[j]) % 8 == 0
      end
      if due then idxTrimKey(key, 16 + 2 * k) end
    end
  end
end

-- Paused task names: read once per call ("*" pauses the app).
local idxPausedTable = nil
local function idxPaused()
  if idxPausedTable == nil then
    idxPausedTable = {}
    for _, name in ipairs(redis.call('HKEYS', IP .. 'paused')) do idxPausedTable[name] = true end
  end
  return idxPausedTable
end
`;

/**
 * The rest of {@linkcode INDEX_LUA}: assigns the functions {@linkcode INDEX_CORE_LUA} declares
 * and most calls do not need. Run it in the scope of INDEX_CORE_LUA (or in a function defined
 * there, as the exchange's `more()`).
 */
export const INDEX_MORE_LUA: string = `
-- Operator indexes, the functions most calls do not need (see _index_lua.ts).
idxPublish = function(uuid, name, status)
  if idxListened == nil then
    idxListened = redis.call('PUBSUB', 'NUMSUB', IP .. 'stream')[2] > 0
  end
  if idxListened then
    redis.call('PUBLISH', IP .. 'stream',
      cjson.encode({ uuid = uuid, taskName = name, status = status, at = now }))
  end
end

-- Whether records of "name" in "status" have an index ZSET: queued tasks are read from the
-- queue and counted by {N}:i:queued, running ones are read from the leases.
idxKept = function(status, name)
  if status == 'running' then
    local flow = idxFlowName[name]
    if flow == nil then
      flow = string.byte(name, 1) == 64
      idxFlowName[name] = flow
    end
    return flow
  end
  return status ~= 'queued'
end

-- Takes back an entry this call added to "key" (rare: a record that enters and leaves one
-- index within one script call); returns whether there was one.
idxTakeBack = function(key, uuid)
  local list = idxAdd[key]
  if list then
    for j = 2, #list, 2 do
      if list[j] == uuid then
        table.remove(list, j)
        table.remove(list, j - 1)
        return true
      end
    end
  end
  return false
end

idxLeave = function(key, uuid)
  if idxTakeBack(key, uuid) then return end
  local list = idxRem[key]
  if not list then
    list = {}
    idxRem[key] = list
    idxRemOrder[#idxRemOrder + 1] = key
  end
  list[#list + 1] = uuid
end

-- Records that a task moved from record or query status "from" (nil: a new record; "new":
-- queued or scheduled) to "to" (nil: deleted). "seq" (its score) is needed when "to" is indexed.
-- Each move is written as it comes (no per-record bookkeeping): a claim changes a counter only,
-- a settlement adds one entry.
idxMove = function(uuid, name, seq, from, to)
  if not name then return end
  if from == 'process' then from = 'running' end
  if to == 'process' then to = 'running' end
  if from == to then return end
  if from == 'queued' then
    idxQueued[name] = (idxQueued[name] or 0) - 1
  elseif from == 'new' then
    -- Queued or scheduled: the schedule's index says which.
    local key = idxKey('scheduled', name)
    if not idxTakeBack(key, uuid) and redis.call('ZREM', key, uuid) == 0 then
      idxQueued[name] = (idxQueued[name] or 0) - 1
    end
  elseif from then
    if idxKept(from, name) then idxLeave(idxKey(from, name), uuid) end
  else
    idxEnter(IP .. 'i:uuids', '0', uuid)
    idxNewNames = idxNewNames or {}
    idxNewNames[name] = true
  end
  if to == 'queued' then
    idxQueued[name] = (idxQueued[name] or 0) + 1
  elseif to then
    if idxKept(to, name) then idxEnter(idxKey(to, name), seq or 0, uuid) end
  else
    idxLeave(IP .. 'i:uuids', uuid)
  end
  if idxListened ~= false then idxPublish(uuid, name, to or 'deleted') end
end


-- A claimed queue entry of a paused task name goes to {N}:parked:<name> until it is resumed;
-- returns whether it did.
idxPark = function(name, member, score)
  if not next(idxPaused()) or not idxPausedTable[name] then return false end
  redis.call('ZADD', IP .. 'parked:' .. name, score, member)
  return true
end
`;

/** The whole of it, every function defined at once: {@linkcode INDEX_CORE_LUA} then {@linkcode INDEX_MORE_LUA}. */
export const INDEX_LUA: string = INDEX_CORE_LUA + INDEX_MORE_LUA;

/**
 * The reading part of the operator's indexes, for the operations scripts (after
 * {@linkcode INDEX_LUA}): `idxNames`, `idxTrim` and `idxPage`.
 */
export const INDEX_QUERY_LUA = `
-- The task names to read: "name", or every name when it is "".
local function idxNames(name)
  if name ~= '' then return { name } end
  return redis.call('SMEMBERS', IP .. 'i:names')
end

-- Trims the finished indexes of "name" (every name when "") by up to "most" entries each.
local function idxTrim(name, most)
  for _, n in ipairs(idxNames(name)) do
    for status in pairs(IDX_FINAL) do idxTrimKey(idxKey(status, n), most) end
  end
end

-- How many tasks of "name" are queued (the counter kept by idxMove).
local function idxQueuedCount(name)
  return math.max(0, tonumber(redis.call('HGET', IP .. 'i:queued', name)) or 0)
end

-- Appends to "out" up to "count" queued entries { uuid, seq } of the sorted set "key" (the
-- queue, the quarantine or a parking: member = 15-digit seq .. ":" .. uuid, score = priority)
-- whose seq is below "bound", of task "name" ("" for any), newest first. Within one priority the
-- members are in seq order, so each priority's run of ranks is searched (binary search for the
-- bound, then read backwards); a task name other than the record's is skipped.
local function idxQueuedFrom(key, name, bound, count, out)
  local lo = 0
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  while first[1] do
    local hi = lo + redis.call('ZCOUNT', key, first[2], first[2]) - 1
    -- The highest rank in lo..hi whose seq is below the bound (lo - 1: none).
    local a, b = lo, hi
    if bound ~= math.huge then
      b = lo - 1
      local top = hi
      while a <= top do
        local mid = math.floor((a + top) / 2)
        local member = redis.call('ZRANGE', key, mid, mid)[1]
        if tonumber(string.sub(member, 1, 15)) < bound then
          b, a = mid, mid + 1
        else
          top = mid - 1
        end
      end
    end
    local found = 0
    local r = b
    while r >= lo and found < count do
      local chunk = redis.call('ZRANGE', key, math.max(lo, r - 99), r)
      for k = #chunk, 1, -1 do
        local member = chunk[k]
        local uuid = string.sub(member, 17)
        local m = redis.call('HMGET', prefix .. uuid, 'task_name', 'status')
        if m[2] == 'new' and (name == '' or m[1] == name) then
          out[#out + 1] = { uuid, tonumber(string.sub(member, 1, 15)) }
          found = found + 1
          if found >= count then break end
        end
      end
      r = r - #chunk
    end
    lo = hi + 1
    first = redis.call('ZRANGE', key, lo, lo, 'WITHSCORES')
  end
end

-- Up to "count" entries { uuid, seq } of a query status (of task "name", or of every task when
-- it is "") whose seq is below "before" ("+inf" for no bound), newest first.
local function idxPage(status, name, before, count)
  local out = {}
  local bound = before == '+inf' and math.huge or tonumber(before)
  local from = before == '+inf' and '+inf' or '(' .. before
  if status == 'running' then
    for _, member in ipairs(redis.call('ZRANGE', IP .. 'leases', 0, -1)) do
      local uuid = string.sub(member, 1, (string.find(member, '|', 1, true) or 0) - 1)
      local r = redis.call('HMGET', prefix .. uuid, 'task_name', 'seq', 'status')
      local seq = tonumber(r[2])
      if r[3] == 'process' and seq and seq < bound and (name == '' or r[1] == name) then
        out[#out + 1] = { uuid, seq }
      end
    end
  end
  if status == 'queued' then
    idxQueuedFrom(IP .. 'queue', name, bound, count, out)
    -- The named queues that tasks were sent to (enqueue_bulk adds them to {N}:queues).
    for _, q in ipairs(redis.call('SMEMBERS', IP .. 'queues')) do
      idxQueuedFrom(IP .. 'queue:' .. q, name, bound, count, out)
    end
    idxQueuedFrom(IP .. 'quarantine', name, bound, count, out)
    -- Tasks parked by their rate limit: one {N}:rate:wait:<slot> per slot in {N}:rate:due
    -- (member "<limit> <ms> <slot>", see _rate_limit_lua.ts).
    local slots = {}
    for _, spec in ipairs(redis.call('ZRANGE', IP .. 'rate:due', 0, -1)) do
      local slot = string.match(spec, '^%d+ %d+ (.+)$')
      if slot and not slots[slot] then
        slots[slot] = true
        idxQueuedFrom(IP .. 'rate:wait:' .. slot, name, bound, count, out)
      end
    end
    -- Tasks parked by their concurrency limit: a slot has parked ones only while some of its
    -- tasks run, so the slots of {N}:conc (running uuid -> slot, see _exchange.ts) cover them.
    local conc = {}
    for _, slot in ipairs(redis.call('HVALS', IP .. 'conc')) do
      if not conc[slot] then
        conc[slot] = true
        idxQueuedFrom(IP .. 'conc:wait:' .. slot, name, bound, count, out)
      end
    end
  end
  for _, n in ipairs(idxNames(name)) do
    if status == 'queued' then
      idxQueuedFrom(IP .. 'parked:' .. n, n, bound, count, out)
    elseif idxKept(status, n) then
      local r = redis.call('ZREVRANGEBYSCORE', idxKey(status, n), from, '-inf',
        'WITHSCORES', 'LIMIT', 0, count)
      for k = 1, #r, 2 do out[#out + 1] = { r[k], tonumber(r[k + 1]) } end
    end
  end
  table.sort(out, function(a, b) return a[2] > b[2] end)
  for k = #out, count + 1, -1 do out[k] = nil end
  return out
end
`;

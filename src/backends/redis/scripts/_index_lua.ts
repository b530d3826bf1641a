/**
 * The Lua part of the operator's indexes, shared by every script that creates, moves or deletes
 * a task record (enqueue_bulk, exchange, cancel and the operations scripts), so that the indexes
 * change in the same atomic step as the status, with no extra round trip.
 *
 * Keys (all under the app's hash tag `{N}:`):
 * - `{N}:i:<status>:<task name>` ZSET, one per query status (queued, scheduled, success, error,
 *   cancel, retry) and task name: score = the record's seq (enqueue order), member = uuid. A
 *   status across task names is read by merging the names' sets (a task name is one more key,
 *   a status of every name one more write per change). Running tasks are read from the leases
 *   (they all hold one), so a claim costs one ZREM and a settle one ZADD; only the records of
 *   chains and groups, which hold no lease, are indexed as `running` (`{N}:i:running:@chain`);
 * - `{N}:i:names` SET of the task names that have records;
 * - `{N}:i:uuids` ZSET, score 0, member = uuid (prefix lookup with ZRANGEBYLEX);
 * - `{N}:i:expiry` ZSET of finished records: score = when the record expires (ms, server time),
 *   member = `<status>|<uuid>|<task name>`; each exchange trims the index entries of expired
 *   records with it, so the indexes never outgrow the records;
 * - `{N}:stream` pub/sub channel, the public event stream: one JSON message
 *   `{"uuid","taskName","status","at"}` per change, published only while it has a subscriber
 *   (one `PUBSUB NUMSUB` per script call that changed something).
 *
 * The host script defines before it `prefix` (the record key prefix `{N}:task:`) and `now`
 * (server time, ms); it calls `idxMove` for each change and `idxFlush()` once before it returns:
 * the changes of one call are merged per record (a task released and claimed again in the same
 * exchange costs nothing) and written as one ZADD or ZREM per key.
 *
 * @module
 */
export const INDEX_LUA = `
-- Operator indexes (see _index_lua.ts).
local IP = string.sub(prefix, 1, -6)
local IDX_FINAL = { success = true, error = true, cancel = true, retry = true }
local idxJournal, idxOrder = {}, {}
local idxListened = nil

local function idxPublish(uuid, name, status)
  if idxListened == nil then
    idxListened = redis.call('PUBSUB', 'NUMSUB', IP .. 'stream')[2] > 0
  end
  if idxListened then
    redis.call('PUBLISH', IP .. 'stream',
      cjson.encode({ uuid = uuid, taskName = name, status = status, at = now }))
  end
end

-- The query status of a record status: "new" stands for queued or scheduled (both are cleared).
local function idxStatus(status)
  if status == 'process' then return 'running' end
  return status
end

-- Whether records of "name" in "status" have an index (running ones are read from the leases).
local function idxKept(status, name)
  return status ~= 'running' or string.sub(name, 1, 1) == '@'
end

-- Records that a task moved from status "from" (nil: a new record; "new": queued or scheduled)
-- to "to" (nil: deleted); "keep" is when a finished record expires (ms, server time).
local function idxMove(uuid, name, seq, from, to, keep)
  if not name then return end
  local e = idxJournal[uuid]
  if not e then
    e = { name = name, seq = tonumber(seq) or 0, from = idxStatus(from) }
    idxJournal[uuid] = e
    idxOrder[#idxOrder + 1] = uuid
  end
  e.to = idxStatus(to)
  e.keep = keep
  idxPublish(uuid, name, to and idxStatus(to) or 'deleted')
end

local function idxWrite(command, groups, order)
  for _, key in ipairs(order) do
    local list = groups[key]
    for j = 1, #list, 1000 do
      redis.call(command, key, unpack(list, j, math.min(j + 999, #list)))
    end
  end
end

-- Writes the merged changes: one ZREM and one ZADD per key.
local function idxFlush()
  local rem, remOrder, add, addOrder = {}, {}, {}, {}
  local function push(groups, order, key, a, b)
    local list = groups[key]
    if not list then
      list = {}
      groups[key] = list
      order[#order + 1] = key
    end
    list[#list + 1] = a
    if b then list[#list + 1] = b end
  end
  local names = {}
  for _, uuid in ipairs(idxOrder) do
    local e = idxJournal[uuid]
    local from, to, name = e.from, e.to, e.name
    if from ~= to or (to and IDX_FINAL[to] and e.keep) then
      if from == 'new' then
        push(rem, remOrder, IP .. 'i:queued:' .. name, uuid)
        push(rem, remOrder, IP .. 'i:scheduled:' .. name, uuid)
      elseif from and from ~= to and idxKept(from, name) then
        push(rem, remOrder, IP .. 'i:' .. from .. ':' .. name, uuid)
      end
      local keep = e.keep
      if from and IDX_FINAL[from] then
        local old = from .. '|' .. uuid .. '|' .. name
        if to and IDX_FINAL[to] and not keep then
          keep = tonumber(redis.call('ZSCORE', IP .. 'i:expiry', old))
        end
        push(rem, remOrder, IP .. 'i:expiry', old)
      end
      if to then
        if to ~= from and idxKept(to, name) then
          push(add, addOrder, IP .. 'i:' .. to .. ':' .. name, e.seq, uuid)
        end
        if IDX_FINAL[to] and keep then
          push(add, addOrder, IP .. 'i:expiry', keep, to .. '|' .. uuid .. '|' .. name)
        end
      else
        push(rem, remOrder, IP .. 'i:uuids', uuid)
      end
      if not from and to then
        push(add, addOrder, IP .. 'i:uuids', 0, uuid)
        if not names[name] then
          names[name] = true
          push(add, addOrder, IP .. 'i:names', name)
        end
      end
    end
  end
  idxWrite('ZREM', rem, remOrder)
  for _, key in ipairs(addOrder) do
    if key == IP .. 'i:names' then
      local list = add[key]
      for j = 1, #list, 1000 do
        redis.call('SADD', key, unpack(list, j, math.min(j + 999, #list)))
      end
      add[key] = nil
    end
  end
  local rest = {}
  for _, key in ipairs(addOrder) do if add[key] then rest[#rest + 1] = key end end
  idxWrite('ZADD', add, rest)
  idxJournal, idxOrder = {}, {}
end

-- Removes the index entries of up to "limit" records that expired; returns how many.
local function idxTrim(limit)
  local expired = redis.call('ZRANGEBYSCORE', IP .. 'i:expiry', '-inf', now, 'LIMIT', 0, limit)
  if #expired == 0 then return 0 end
  for _, member in ipairs(expired) do
    local a = string.find(member, '|', 1, true)
    local b = string.find(member, '|', a + 1, true)
    local status, uuid, name = string.sub(member, 1, a - 1), string.sub(member, a + 1, b - 1),
      string.sub(member, b + 1)
    redis.call('ZREM', IP .. 'i:' .. status .. ':' .. name, uuid)
    redis.call('ZREM', IP .. 'i:uuids', uuid)
  end
  redis.call('ZREM', IP .. 'i:expiry', unpack(expired))
  return #expired
end

-- The task names to read: "name", or every name when it is "".
local function idxNames(name)
  if name ~= '' then return { name } end
  return redis.call('SMEMBERS', IP .. 'i:names')
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
  for _, n in ipairs(idxNames(name)) do
    if idxKept(status, n) then
      local r = redis.call('ZREVRANGEBYSCORE', IP .. 'i:' .. status .. ':' .. n, from, '-inf',
        'WITHSCORES', 'LIMIT', 0, count)
      for k = 1, #r, 2 do out[#out + 1] = { r[k], tonumber(r[k + 1]) } end
    end
  end
  table.sort(out, function(a, b) return a[2] > b[2] end)
  for k = #out, count + 1, -1 do out[k] = nil end
  return out
end

-- Paused task names: read once per call ("*" pauses the app).
local idxPausedTable = nil
local function idxPaused()
  if idxPausedTable == nil then
    idxPausedTable = {}
    local flat = redis.call('HGETALL', IP .. 'paused')
    for j = 1, #flat, 2 do idxPausedTable[flat[j]] = true end
  end
  return idxPausedTable
end

-- A claimed queue entry of a paused task name goes to {N}:parked:<name> until it is resumed;
-- returns whether it did.
local function idxPark(name, member, score)
  if not idxPaused()[name] then return false end
  redis.call('ZADD', IP .. 'parked:' .. name, score, member)
  return true
end
`;

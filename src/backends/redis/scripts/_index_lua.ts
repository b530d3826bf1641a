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
 * - `{N}:i:uuids` ZSET, score 0, member = uuid (prefix lookup with ZRANGEBYLEX).
 *
 * Finished records expire (PEXPIRE); their index entries are trimmed from the oldest end: about
 * one addition to a finished index in 8 (those whose seq is a multiple of 8) looks at the index's
 * oldest entries and removes those whose record is gone, up to 32 (twice what 8 additions add,
 * so trimming keeps pace), stopping at the first record that exists; an index therefore never
 * outgrows its records by more than a few entries per addition (a record kept longer than the
 * ones after it, such as a retry's, holds the trimming back until it expires). Queries and
 * counts trim the indexes they read the same way.
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
local jN, jAt, jUuid, jName, jSeq, jFrom, jTo = 0, {}, {}, {}, {}, {}, {}
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

-- Index keys, built once per status and name.
local idxKeyCache = {}
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
  end
  return key
end

-- Whether records of "name" in "status" have an index (running ones are read from the leases).
local function idxKept(status, name)
  return status ~= 'running' or string.byte(name, 1) == 64
end

-- Records that a task moved from record or query status "from" (nil: a new record; "new":
-- queued or scheduled) to "to" (nil: deleted). "seq" (its score) is needed when "to" is indexed.
local function idxMove(uuid, name, seq, from, to)
  if not name then return end
  local k = jAt[uuid]
  if not k then
    jN = jN + 1
    k = jN
    jAt[uuid] = k
    jUuid[k], jName[k], jSeq[k] = uuid, name, seq
    jFrom[k] = from == 'process' and 'running' or from
  elseif seq then
    jSeq[k] = seq
  end
  to = to == 'process' and 'running' or to
  jTo[k] = to
  if idxListened ~= false then idxPublish(uuid, name, to or 'deleted') end
end

-- A finished record's move (from "process"): a settlement's fields end with its task_name and
-- seq pairs when the worker's broker knew them (they are taken off the fields, and nothing is
-- read); else they are read.
local function idxFinish(key, uuid, fields)
  local n = #fields
  if n >= 6 and fields[n - 3] == 'task_name' and fields[n - 1] == 'seq' then
    -- The settlement's last pairs (the record's own values): taken off, nothing to write.
    local name, seq = fields[n - 2], fields[n]
    fields[n], fields[n - 1], fields[n - 2], fields[n - 3] = nil, nil, nil, nil
    idxMove(uuid, name, seq, 'process', fields[2])
  else
    local m = redis.call('HMGET', key, 'task_name', 'seq', 'status')
    idxMove(uuid, m[1], m[2], m[3], fields[2])
  end
end

local function idxWrite(command, groups, order)
  for _, key in ipairs(order) do
    local list = groups[key]
    for j = 1, #list, 1000 do
      redis.call(command, key, unpack(list, j, math.min(j + 999, #list)))
    end
  end
end

-- Removes up to "most" index entries of expired records from the oldest end of "key" (it stops
-- at the first record that exists); returns how many.
local function idxTrimKey(key, most)
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

-- Writes the merged changes (one ZREM and one ZADD per key), then trims the finished indexes
-- it added to.
local function idxFlush()
  if jN == 0 then return end
  local rem, remOrder, add, addOrder, names, trim = {}, {}, {}, {}, nil, nil
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
  for k = 1, jN do
    local uuid, name, from, to = jUuid[k], jName[k], jFrom[k], jTo[k]
    if from ~= to then
      if from == 'new' then
        push(rem, remOrder, idxKey('queued', name), uuid)
        push(rem, remOrder, idxKey('scheduled', name), uuid)
      elseif from and idxKept(from, name) then
        push(rem, remOrder, idxKey(from, name), uuid)
      end
      if to then
        if idxKept(to, name) then
          local key = idxKey(to, name)
          local seq = jSeq[k] or 0
          push(add, addOrder, key, seq, uuid)
          -- About one addition in 8 (by seq) trims its index, by up to 16 entries per addition
          -- since the last trim (so trimming keeps pace) plus 16.
          if IDX_FINAL[to] and tonumber(seq) % 8 == 0 then
            trim = trim or {}
            trim[key] = (trim[key] or 16) + 16
          end
        end
        if not from then
          push(add, addOrder, IP .. 'i:uuids', 0, uuid)
          names = names or {}
          names[name] = true
        end
      else
        push(rem, remOrder, IP .. 'i:uuids', uuid)
      end
    end
  end
  idxWrite('ZREM', rem, remOrder)
  idxWrite('ZADD', add, addOrder)
  if names then
    local list = {}
    for name in pairs(names) do list[#list + 1] = name end
    redis.call('SADD', IP .. 'i:names', unpack(list))
  end
  if trim then
    for key, most in pairs(trim) do idxTrimKey(key, most) end
  end
  jN, jAt = 0, {}
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

-- A claimed queue entry of a paused task name goes to {N}:parked:<name> until it is resumed;
-- returns whether it did.
local function idxPark(name, member, score)
  if not next(idxPaused()) or not idxPausedTable[name] then return false end
  redis.call('ZADD', IP .. 'parked:' .. name, score, member)
  return true
end
`;

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

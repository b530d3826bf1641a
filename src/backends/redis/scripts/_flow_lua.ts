/**
 * The Lua part of chains and groups (src/flow/), shared by the scripts that can end a task: the
 * exchange (settle, recovery) and cancel. It defines `flowAfter(key, uuid, fields)`, to call
 * after a task reached a final status with `fields` (`{ 'status', s, field, value, ... }`).
 *
 * The host script defines before it: `prefix` (record key prefix), `stamp` (unix seconds),
 * `finish(key, uuid, fields)` (writes a final status, expiry and event), `idxMove` (the operator's
 * indexes, _index_lua.ts), `flowQueue` and
 * `flowSeq` (the queue and sequence keys, where the next steps go) and a global-to-the-script
 * `wake` it sets when it queues a task in the default queue, and a table `wakes` of the named
 * queues it queued tasks in (a step's `queue`: its record's `queue` field and the ZSET
 * `flowQueue .. ':' .. queue`). It declares `local flowAfter` before `finish` and assigns
 * it here, because finishing a flow record goes through `finish` too.
 *
 * A task's `flow` field is a JSON object: `chain` (uuid of the chain's record), `group`
 * (`{ uuid, index, size }`: the group's record and the task's place in it), `next` (the steps
 * after it: `{ uuid, name, priority, args, extra, queue }` for a task, whose args are JSON text that
 * follows the previous result; `{ group, members }` for a group). A step inherits
 * the `headers` field of the task that starts it.
 */
export const FLOW_LUA = `
-- Chains and groups: what runs after a task of a flow reached a final status.
local FLOW_ERROR_FIELDS = { error_type = 1, error_message = 1, error_code = 1, traceback = 1,
  cancel_reason = 1 }
local FLOW_RUNNING = { process = true, new = true }

-- Ends a chain or group record that still runs; returns whether it did.
-- (Its flow_current goes into the final event too: a waiter completes the record it read before
-- with that event's fields, and a chain's current step changed since.)
local function flowEnd(uuid, fields)
  local key = prefix .. uuid
  local r = redis.call('HMGET', key, 'status', 'flow_current')
  if not FLOW_RUNNING[r[1]] then return false end
  local final = { unpack(fields) }
  if r[2] then
    final[#final + 1] = 'flow_current'
    final[#final + 1] = r[2]
  end
  finish(key, uuid, final)
  return true
end

-- Stores and queues one task of a flow (unless its uuid exists), the previous result first.
local function flowTask(step, prev, link, headers)
  local key = prefix .. step.uuid
  if redis.call('EXISTS', key) == 1 then return end
  local args = step.args
  if string.match(args, '^%s*%[%s*%]%s*$') then
    args = '[' .. prev .. ']'
  else
    args = '[' .. prev .. ',' .. string.sub(string.match(args, '^%s*(.*)$'), 2)
  end
  local seq = redis.call('INCR', flowSeq)
  if type(step.extra) == 'table' then
    for field, value in pairs(step.extra) do redis.call('HSET', key, field, value) end
  end
  redis.call('HSET', key, 'task_name', step.name, 'priority', step.priority, 'args', args,
    'kwargs', '{}', 'status', 'new', 'created_at', stamp, 'updated_at', stamp, 'seq', seq,
    'deliveries', 0, 'flow', cjson.encode(link))
  if headers then redis.call('HSET', key, 'headers', headers) end
  idxMove(step.uuid, step.name, seq, nil, 'queued')
  local queue = flowQueue
  if type(step.queue) == 'string' and step.queue ~= 'default' then
    -- A named queue: its ZSET and marker (the caller's "wakes" table).
    redis.call('HSET', key, 'queue', step.queue)
    queue = flowQueue .. ':' .. step.queue
    wakes[step.queue] = true
  else
    wake = true
  end
  redis.call('ZADD', queue, tonumber(step.priority) or 0,
    string.format('%015d', seq) .. ':' .. step.uuid)
end

-- Starts a step: its task, or its group's record and tasks.
local function flowStart(step, prev, chain, rest, headers)
  if step.group then
    local gkey = prefix .. step.group
    if redis.call('EXISTS', gkey) == 0 then
      local members = {}
      for index, member in ipairs(step.members) do members[index] = member.uuid end
      redis.call('HSET', gkey, 'task_name', '@group', 'priority', 0, 'args', '[]', 'kwargs', '{}',
        'status', 'process', 'created_at', stamp, 'updated_at', stamp, 'started_at', stamp,
        'deliveries', 0, 'flow_kind', 'group', 'flow_steps', cjson.encode(members))
      local gseq = redis.call('INCR', flowSeq)
      redis.call('HSET', gkey, 'seq', gseq)
      idxMove(step.group, '@group', gseq, nil, 'process')
    end
    for index, member in ipairs(step.members) do
      flowTask(member, prev, { chain = chain, next = rest,
        group = { uuid = step.group, index = index - 1, size = #step.members } }, headers)
    end
  else
    flowTask(step, prev, { chain = chain, next = rest }, headers)
  end
  if chain then redis.call('HSET', prefix .. chain, 'flow_current', step.group or step.uuid) end
end

flowAfter = function(key, uuid, fields)
  -- The next steps carry the headers of the task that starts them (trace context).
  local r = redis.call('HMGET', key, 'flow', 'headers')
  local raw, headers = r[1], r[2] or nil
  if not raw then return end
  local ok, link = pcall(cjson.decode, raw)
  if not ok or type(link) ~= 'table' then return end
  local chain = type(link.chain) == 'string' and link.chain or nil
  local group = type(link.group) == 'table' and link.group or nil
  if fields[2] ~= 'success' then
    local failure = { 'status', fields[2], 'flow_failed_uuid', uuid }
    for j = 3, #fields, 2 do
      if FLOW_ERROR_FIELDS[fields[j]] then
        failure[#failure + 1] = fields[j]
        failure[#failure + 1] = fields[j + 1]
      end
    end
    if group then flowEnd(group.uuid, failure) end
    if chain then flowEnd(chain, failure) end
    return
  end
  local prev = 'null'
  for j = 3, #fields, 2 do
    if fields[j] == 'returning' then prev = fields[j + 1] end
  end
  if group then
    local gkey = prefix .. group.uuid
    if not FLOW_RUNNING[redis.call('HGET', gkey, 'status')] then return end
    redis.call('HSET', gkey, 'flow_result_' .. group.index, prev)
    if redis.call('HINCRBY', gkey, 'flow_done', 1) < group.size then return end
    local names = {}
    for j = 0, group.size - 1 do names[j + 1] = 'flow_result_' .. j end
    local results = redis.call('HMGET', gkey, unpack(names))
    for j = 1, #results do results[j] = results[j] or 'null' end
    redis.call('HDEL', gkey, unpack(names))
    prev = '[' .. table.concat(results, ',') .. ']'
    flowEnd(group.uuid, { 'status', 'success', 'returning', prev })
  end
  if chain and not FLOW_RUNNING[redis.call('HGET', prefix .. chain, 'status')] then return end
  local steps = type(link.next) == 'table' and link.next or {}
  if #steps == 0 then
    if chain then flowEnd(chain, { 'status', 'success', 'returning', prev }) end
    return
  end
  local rest = {}
  for j = 2, #steps do rest[j - 1] = steps[j] end
  flowStart(steps[1], prev, chain, rest, headers)
end
`;

import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import type { RedisKeys } from "../redis_keys.ts";
import type { ClaimedTask, ExchangeRequest, ExchangeResult } from "../../../model/messages.ts";
import { errorFields } from "../../../model/task_codec.ts";
import { parseHeaders } from "../../../model/task_headers.ts";
import {
  DeliveryLimitError,
  deliveryLimitMessage,
} from "../../../model/errors/delivery_limit_error.ts";
import { ATTEMPT_FIELDS, luaSet } from "../../../model/_attempt_fields.ts";
import { MAX_PAST_DELIVERIES } from "../../../model/past_delivery.ts";
import { TaskExpiredError } from "../../../model/errors/task_expired_error.ts";
import { malformedReply } from "./_reply.ts";
import { FLOW_LUA } from "./_flow_lua.ts";
import { INDEX_CORE_LUA, INDEX_MORE_LUA } from "./_index_lua.ts";
import { RATE_LIMIT_LUA } from "./_rate_limit_lua.ts";
import { DEFAULT_QUEUE } from "../../../model/queue_name.ts";
import {
  CLAIM_FIELDS,
  luaFieldArgs,
  OPTIONAL_CLAIM_FIELDS,
  PLAIN_CLAIM_FIELD,
} from "./_claim_fields.ts";

/** A Lua string literal of plain ASCII text. */
function luaString(text: string): string {
  if (!/^[\x20-\x7e]*$/.test(text)) throw new TypeError(`Cannot inline ${text} in Lua`);
  return `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/** What recovery writes for a task past its delivery limit: a DeliveryLimitError's fields. */
const LIMIT_ERROR = new DeliveryLimitError(0);
const LIMIT_TYPE = luaString(LIMIT_ERROR.name);
const LIMIT_CODE = luaString(LIMIT_ERROR.code);
const LIMIT_MESSAGE = deliveryLimitMessage("\0").split("\0").map(luaString);

/** An empty list of the reply (sent as a nil). */
const NO_ITEMS: readonly string[] = [];

/** Whether a reply item is a list, or a nil (an empty list). */
function listOrNil(item: RedisReply): item is RedisReply[] | null {
  return item === null || Array.isArray(item);
}

/** Items per claimed task in the reply's flat list. */
const CLAIMED_WIDTH = 9;

/** What a claim writes for a task past its deadline: a TaskExpiredError's fields. */
const EXPIRED_ERROR = new TaskExpiredError();
const EXPIRED_TYPE = luaString(EXPIRED_ERROR.name);
const EXPIRED_CODE = luaString(EXPIRED_ERROR.code);
const EXPIRED_MESSAGE = luaString(EXPIRED_ERROR.message);

/**
 * Settles finished tasks (creating the next attempt of retried ones), recovers expired leases, moves
 * due scheduled tasks into the queue and claims tasks, in one atomic step.
 */
export const exchangeScript: RedisScript = new RedisScript(
  "exchange",
  `--[[ exchange: a worker settles what it finished, expired leases are recovered, due scheduled
tasks move into the queue, and the worker claims up to ARGV[4] tasks, all in one atomic step (one
round trip per batch).
KEYS[1] queue      ZSET   score = priority, member = 15-digit seq .. ":" .. uuid
KEYS[2] leases     ZSET   score = lease deadline (ms, server time),
                          member = uuid .. "|" .. worker id .. "|" .. deliveries (the lease token)
KEYS[3] marker     ZSET   wake-up marker for blocked workers
KEYS[4] quarantine ZSET   like the queue: tasks whose worker died holding them, run one at a time
KEYS[5] scheduled  ZSET   tasks not yet due: score = due time (ms, server time), member as in the queue
KEYS[6] seq        STRING sequence counter (a retry's record takes the next number)
ARGV[1] prefix of record keys ("{app}:task:")
ARGV[2] worker id (owner of the leases)
ARGV[3] lease duration ms
ARGV[4] how many tasks to claim
ARGV[5] result ttl ms (finished records expire after it), optionally ":" and the ttl ms of failed
        and cancelled records
ARGV[6] max deliveries (an expired lease past it ends the task as error)
ARGV[7] how many expired leases to recover at most
ARGV[8] events channel: "<uuid> <status>" is published on every status change; a final status
        adds " <JSON of the fields it changed>" (unless the result is over 16 KiB), so a waiter
        that read the record before needs no second read. Nothing is published while the channel
        has no subscriber: a waiter subscribes before it reads the record, and this script is
        atomic, so it either counts that waiter or runs before its read
ARGV[9] "1" when the worker runs nothing: it may take one quarantined task (and then nothing else)
ARGV[10] number of settlements S, followed by S settlements, each:
        uuid, deliveries (lease token), status (success|error|cancel|retry|release), flow ("1"
        when the claim said the task is part of a chain or group, else ""), task name and seq
        (the record's task_name and seq, as the claim's reply gave them, so that the operator's
        indexes are updated without reading the record; "" and "": unknown, they are read),
        then for a success its result (JSON, stored as "returning"), else n, n field/value
        pairs; a retry adds: child uuid, delay ms, retries left (>= 1)
A record with "conc_slot" and "conc_limit" (a concurrency limit, see the script's concTake) is
claimed only while fewer than conc_limit tasks of its slot run; else its entry is parked in the
slot's waiting ZSET ({app}:conc:wait:<slot>), and a settlement or a recovered lease of a running
task of the slot moves one parked task back into its queue.
A record with "rate_limit" ("<limit> <ms> <slot>", a rate limit, see _rate_limit_lua.ts; its
task name is in the SET {app}:rate:names, read once per claiming exchange when the first EXISTS
below found a flow-control key) is claimed only while
fewer than limit tasks of its slot started in the last ms; else its entry is parked in
{app}:rate:wait:<slot> until the window has room (the schedule's member "rate" is due then).
Each call starts with one EXISTS of {app}:paused, {app}:rate:names, {app}:conc and KEYS[4]: when
none exists, the paused names, the rate-limited names, the concurrency slots and the quarantine
are not read again (see flowControl).
A release settlement with a field pair ("delay", ms) gives its task back as a delayed one (a
remote rate limit: rate().defer), counted in its record's rate_deferred, which recovery subtracts
from its deliveries before comparing them with ARGV[6].
A claim reads the record's fields listed in _claim_fields.ts: a record with the plain_claim
marker (written by enqueue_bulk on a task with none of the optional fields: retry, attempt, flow,
queue, expires_at, run_at, conc_slot, conc_limit) has only the fields every claim needs read.
After the settlements (absent: the default queue alone, every task name): Q, then Q queue names
        to claim from in this order (KEYS[1] for "default", else KEYS[1] .. ":" .. name, each
        woken through KEYS[3] or KEYS[3] .. ":" .. name), then N, then N task names this worker
        knows (N = 0: any): a task of another name in a named queue is left there, and a
        quarantined task of a queue not in the list too. A record's "queue" field names its
        queue: a release, a retry, a due scheduled task and a flow's next step go back there.
A task of a chain or group (a record with a "flow" field) that reaches a final status here runs
the rest of its flow (see _flow_lua.ts): on success the next step is stored and queued with the
result as its first argument (a group's last member starts it with all the results, in order), and
a chain or group that ends gets its final status; on error or cancel its group and chain end so.
A retry settlement gives the failed record status "retry", the error fields, retry = retries left
and retry_child_uuid (it expires after result ttl + delay), and creates the child record: the
task fields copied (task_name, priority, args, kwargs and extra fields), status "new", retry =
retries left - 1, retry_parent_uuid, attempt = the parent's + 1, a new seq, and run_at when
delayed; the child waits in the schedule, or goes straight into the queue when the delay is 0. A
task whose cancel was requested is not retried: it ends as error.
Then up to 1000 due scheduled tasks move into the queue (by their priority and seq), before the
claim. The marker is set when tasks wait in the queue or quarantine, when a scheduled task became
the earliest (a blocked worker then shortens its wait), and when this worker claimed tasks while
some are scheduled (so that an idle worker learns the next due time).
Returns { claimed, rejected, recovered, dropped, quarantined, next due, now, isolated }: claimed
is flat (queue member, task_name, args, kwargs, priority, deliveries, headers, due, more per
task; the queue member is the 15-digit seq, ":" and the uuid, whose seq lets the worker's
settlement carry the record's task_name and seq, so that the settle step updates the operator's
indexes without reading the record; headers is JSON, "" when none; due is when the task became
due, as the record has it (unix seconds: created_at, or run_at when later; "" when unknown), from
which the worker computes how long it waited (with "now"); more is "" unless the record has
retry, attempt or flow, else retry .. "," .. attempt .. "," .. ("1" for a task of a chain or
group, else "")); isolated is 1 when the claimed task came from the quarantine (an idle worker's
claim of one task, see ARGV[9]), else 0; rejected lists
settled uuids whose lease was lost (a settlement whose lease member is missing
is stored all the same when the record still says this worker runs this delivery, and is skipped
as already stored when the record holds its final status: a resend after a lost reply), recovered
counts expired leases (they go to the quarantine, so that a task that kills its worker cannot take
other tasks down with it; a task whose cancel was requested ends as cancel instead), dropped lists
queue and schedule entries that had no record or whose record is not "new" (nothing claims it
twice; an entry whose record's expires_at (unix seconds) has passed is not claimed: its record
ends as cancel, cancel_reason "expired", with a TaskExpiredError's error fields), quarantined
counts the quarantine, next due is the
ms until the earliest scheduled task is due (-1: none), now the server time (ms). Each field of
the reply per task costs the server and the worker something: few, and "" when unused. An empty
claimed, rejected or dropped list is replied as a nil (Lua false): cheaper for Redis to convert. ]]
local t = redis.call('TIME')
-- The server time: "stamp" (unix seconds, 6 decimals) and "nowText" (ms) as text, "now" (ms) as a
-- number: one string.format and one tonumber per call.
local micros = string.format('%06d', tonumber(t[2]))
local stamp = t[1] .. '.' .. micros
local nowText = t[1] .. string.sub(micros, 1, 3)
local now = tonumber(nowText)
local prefix, wid = ARGV[1], ARGV[2]
-- Numbers that go into a command are kept as text: Redis 7.0 formats a Lua number argument with
-- snprintf, and Lua does the same to concatenate one, each hundreds of instructions (see
-- _index_lua.ts, "Cost"). What only some calls use is computed at its first use: the result ttls
-- (finish), the lease deadline (the claim), the settlements' counts of field pairs.
local ttlText, failedTtlText, leaseAt, PAIRS = nil, nil, nil, nil
-- One PUBSUB NUMSUB for the events channel and the public event stream (_index_lua.ts).
local subscribers = redis.call('PUBSUB', 'NUMSUB', ARGV[8], string.sub(prefix, 1, -6) .. 'stream')
local listened = subscribers[2] > 0
local wake = false
-- Named queues whose marker is set at the end (the default queue's is "wake").
local wakes = {}
local dropped = {}
-- An empty table, never written: the optional claim fields of a record with the plain_claim
-- marker, and the paused and rate-limited names when the EXISTS below found none.
local NONE = {}
-- The rarely used parts, built at their first use in a call (defined below).
local more
${INDEX_CORE_LUA}
idxListened = subscribers[4] > 0
-- What is rarely there: one EXISTS of the paused names ({app}:paused), the rate-limited task
-- names ({app}:rate:names), the running tasks that hold a concurrency slot ({app}:conc) and the
-- quarantine (KEYS[4]) says whether any of them exists. Most calls find none: they then skip the
-- HKEYS, SMEMBERS, EXISTS and ZCARD that read them (a lone task's exchange pays those alone, a
-- batch of 100 shares them); when one exists, each is read as before.
local concBase = IP .. 'conc'
local flowControl = redis.call('EXISTS', IP .. 'paused', IP .. 'rate:names', concBase,
  KEYS[4]) > 0
if not flowControl then idxPausedTable = NONE end
-- Concurrency limits (see more()): whether a running task may hold a slot (nil: not known yet;
-- false when the EXISTS above found no {app}:conc).
local concHeld = nil
if not flowControl then concHeld = false end
-- The task names whose records may carry a rate limit (rateNames[name] is true), read by
-- rateLoadNames (see more()) before the claim.
local rateNames = NONE

-- "plain" is true for a settlement that said its task is not part of a flow (no read needed);
-- "name" and "seq" are the record's task_name and seq when known (nil: idxFinish reads them).
local function finish(key, uuid, fields, owner, deliveries, keepMs, plain, name, seq)
  if not ttlText then
    ttlText = string.match(ARGV[5], '^%d+')
    failedTtlText = string.match(ARGV[5], ':(%d+)$') or ttlText
  end
  local keep = keepMs or
    ((fields[2] == 'error' or fields[2] == 'cancel') and failedTtlText or ttlText)
  idxFinish(key, uuid, fields[2], name, seq)
  redis.call('HSET', key, 'updated_at', stamp, 'finished_at', stamp, unpack(fields))
  redis.call('PEXPIRE', key, keep)
  if listened then
    -- The final event, with the fields it changed (see ARGV[8]).
    local changed = { updated_at = stamp, finished_at = stamp, worker_id = owner,
      deliveries = deliveries, started_at = redis.call('HGET', key, 'started_at') or nil }
    local size = 0
    for j = 1, #fields, 2 do
      changed[fields[j]] = fields[j + 1]
      size = size + #fields[j + 1]
    end
    local message = uuid .. ' ' .. fields[2]
    if size <= 16384 then message = message .. ' ' .. cjson.encode(changed) end
    redis.call('PUBLISH', ARGV[8], message)
  end
  -- Chains and groups (see more()): run after every final status.
  if not plain and fields[2] ~= 'retry' then more().flowAfter(key, uuid, fields) end
end

-- The ZSET of queue "name" (nil or "default": the default queue).
local function queueKey(name)
  if not name or name == 'default' then return KEYS[1] end
  return KEYS[1] .. ':' .. name
end

-- Sets the marker of queue "name" at the end.
local function wakeQueue(name)
  if not name or name == 'default' then wake = true else wakes[name] = true end
end

-- The due time of the earliest scheduled task (nil: none), read at most once unless it changes.
local head = false
local function scheduledHead()
  if head == false then head = tonumber(redis.call('ZRANGE', KEYS[5], '0', '0', 'WITHSCORES')[2]) end
  return head
end

-- The parts a call rarely needs, built at its first use of one of them: requeue (a release, a
-- recovered lease), concurrency and rate limits, chains and groups, retries, the check of a
-- settlement whose lease member is missing, and the operator indexes' functions that the claim
-- and the settlement of a plain task do not use (INDEX_MORE_LUA: idxMove and the rest, assigned
-- to the locals INDEX_CORE_LUA declared). A call that needs none of them creates none of their
-- functions and tables (a lone task's calls pay only for what they run). Returns the table of
-- those functions: requeue, concKick, concFree, concTake, rate, rateLoadNames, rateWoken,
-- rateUndo, flowAfter, retry, settleWithoutLease.
local moreLib = nil
more = function()
  if moreLib then return moreLib end
${INDEX_MORE_LUA}

-- Puts a running task back in "queue" (KEYS[1]: its own queue; KEYS[4]: the quarantine), and
-- appends the delivery that ends ("released" or "expired") to its past_deliveries field, the last
-- ${MAX_PAST_DELIVERIES} kept (src/model/past_delivery.ts reads them).
local function requeue(key, uuid, queue, ending)
  local r = redis.call('HMGET', key, 'priority', 'seq', 'task_name', 'queue', 'deliveries',
    'worker_id', 'started_at', 'past_deliveries')
  if not r[2] then return false end
  if queue == KEYS[1] and r[4] then
    queue = queueKey(r[4])
    wakeQueue(r[4])
  end
  idxMove(uuid, r[3], r[2], 'process', 'queued')
  local ok, past = pcall(cjson.decode, r[8] or '[]')
  if not ok or type(past) ~= 'table' then past = {} end
  past[#past + 1] = { n = tonumber(r[5] or '0') or 0, worker = r[6] or '',
    started_at = r[7] or '', ended_at = stamp, ['end'] = ending }
  while #past > ${MAX_PAST_DELIVERIES} do table.remove(past, 1) end
  redis.call('HSET', key, 'status', 'new', 'worker_id', '', 'updated_at', stamp,
    'past_deliveries', cjson.encode(past))
  redis.call('ZADD', queue, tonumber(r[1]) or 0, string.format('%015d', tonumber(r[2])) .. ':' .. uuid)
  if listened then redis.call('PUBLISH', ARGV[8], uuid .. ' new') end
  return true
end

-- Concurrency limits (a record with conc_slot and conc_limit, written at enqueue): the hash
-- concBase maps each running limited task's uuid to its slot; concBase .. ':run:' .. slot is the
-- SET of the slot's running uuids, concBase .. ':wait:' .. slot the ZSET of its parked queue
-- entries (score = priority). Tasks without a limit cost one EXISTS per exchange that settles or
-- recovers (concHeld, known from the flowControl EXISTS when no limit is in use), nothing per
-- task.
-- Moves the slot's first parked task that still waits back into its queue, when the slot has
-- room (entries of tasks no longer waiting are dropped).
local function concKick(slot, limit)
  local run, wait = concBase .. ':run:' .. slot, concBase .. ':wait:' .. slot
  if redis.call('SCARD', run) >= (tonumber(limit) or 1) then return end
  while true do
    local popped = redis.call('ZPOPMIN', wait, 1)
    if #popped == 0 then return end
    local r = redis.call('HMGET', prefix .. string.sub(popped[1], 17), 'status', 'queue')
    if r[1] == 'new' then
      redis.call('ZADD', queueKey(r[2]), popped[2], popped[1])
      wakeQueue(r[2])
      return
    end
  end
end

-- Frees the slot a running task holds, if any, and moves one parked task of it back.
local function concFree(uuid)
  if concHeld == nil then concHeld = redis.call('EXISTS', concBase) == 1 end
  if not concHeld then return end
  local slot = redis.call('HGET', concBase, uuid)
  if not slot then return end
  redis.call('HDEL', concBase, uuid)
  redis.call('SREM', concBase .. ':run:' .. slot, uuid)
  concKick(slot, redis.call('HGET', prefix .. uuid, 'conc_limit'))
end

-- Takes a slot for a claimed task, or parks its queue entry when the slot is full (false).
local function concTake(uuid, slot, limit, member, score)
  local run = concBase .. ':run:' .. slot
  if redis.call('SCARD', run) >= (tonumber(limit) or 1) then
    redis.call('ZADD', concBase .. ':wait:' .. slot, score, member)
    return false
  end
  redis.call('SADD', run, uuid)
  redis.call('HSET', concBase, uuid, slot)
  concHeld = true
  return true
end
${RATE_LIMIT_LUA}

-- Chains and groups: flowAfter (_flow_lua.ts) queues its steps in these.
local flowQueue, flowSeq = KEYS[1], KEYS[6]
local flowAfter
${FLOW_LUA}
-- Fields that describe one attempt, not the task: a retry's record starts without them.
local ATTEMPT_FIELDS = ${luaSet(ATTEMPT_FIELDS)}

local function retry(key, uuid, fields, token, child, delay, left)
  local parent = redis.call('HGETALL', key)
  local copy, attempt, priority, cancelled, name, pseq, queue = {}, 1, 0, false, nil, nil, nil
  for j = 1, #parent, 2 do
    local field, value = parent[j], parent[j + 1]
    if field == 'task_name' then name = value end
    if field == 'seq' then pseq = value end
    if field == 'queue' then queue = value end
    if field == 'attempt' then
      attempt = tonumber(value) or 1
    elseif field == 'cancel_requested' then
      cancelled = true
    elseif not ATTEMPT_FIELDS[field] then
      copy[#copy + 1] = field
      copy[#copy + 1] = value
      if field == 'priority' then priority = tonumber(value) or 0 end
    end
  end
  local childKey = prefix .. child
  if cancelled or #copy == 0 or redis.call('EXISTS', childKey) == 1 then
    fields[2] = 'error'
    finish(key, uuid, fields, wid, token, nil, nil, name, name and pseq)
    return
  end
  local seq = redis.call('INCR', KEYS[6])
  local member = string.format('%015d', seq) .. ':' .. child
  local due = now + delay
  redis.call('HSET', childKey, unpack(copy))
  redis.call('HSET', childKey, 'status', 'new', 'created_at', stamp, 'updated_at', stamp,
    'seq', seq, 'deliveries', 0, 'retry', left - 1, 'retry_parent_uuid', uuid,
    'attempt', attempt + 1)
  idxMove(child, name, seq, nil, delay > 0 and 'scheduled' or 'queued')
  if delay > 0 then
    redis.call('HSET', childKey, 'run_at', string.format('%.3f', due / 1000))
    local earliest = scheduledHead()
    if not earliest or due < earliest then
      head = due
      wakeQueue(queue)
    end
    redis.call('ZADD', KEYS[5], due, member)
  else
    wakeQueue(queue)
    redis.call('ZADD', queueKey(queue), priority, member)
  end
  local n = #fields
  fields[n + 1], fields[n + 2], fields[n + 3], fields[n + 4] =
    'retry', tostring(left), 'retry_child_uuid', child
  finish(key, uuid, fields, wid, token, tonumber(string.match(ARGV[5], '^%d+')) + delay, nil,
    name, pseq)
end

-- A settlement whose lease member is missing: 'held' when the record still says this worker runs
-- this delivery (the leases key lost the member: deleted, or evicted), 'done' when the record
-- already holds this delivery's final status, the one settled (an earlier send of this settlement
-- was stored and its reply lost), else 'lost' (the lease expired and the task was recovered).
local function settleWithoutLease(key, token, status)
  local r = redis.call('HMGET', key, 'status', 'worker_id', 'deliveries', 'error_code')
  if r[2] ~= wid or r[3] ~= token then return 'lost' end
  if r[1] == 'process' then return 'held' end
  -- Recovery ends a task past maxDeliveries with the worker's id left on it: not this send's.
  if r[1] == status and r[4] ~= ${LIMIT_CODE} then return 'done' end
  return 'lost'
end

  moreLib = { requeue = requeue, concKick = concKick, concFree = concFree, concTake = concTake,
    rate = rate, rateLoadNames = rateLoadNames, rateWoken = rateWoken, flowAfter = flowAfter,
    retry = retry, settleWithoutLease = settleWithoutLease,
    rateUndo = function(uuid) if rateLib then rateLib.undo(uuid) end end }
  return moreLib
end

local rejected = {}
local i = 11
for _ = 1, tonumber(ARGV[10]) do
  local uuid, token, status = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local plain, name, seq = ARGV[i + 3] ~= '1', ARGV[i + 4], ARGV[i + 5]
  -- A success carries its result alone (no count, no field name): two arguments fewer per task.
  local n, after = 0, i + 7
  if status ~= 'success' then
    -- The count of field pairs as a number: no tonumber (strtod) for the small counts.
    PAIRS = PAIRS or { ['0'] = 0, ['1'] = 1, ['2'] = 2, ['3'] = 3, ['4'] = 4, ['5'] = 5 }
    n = PAIRS[ARGV[i + 6]] or tonumber(ARGV[i + 6])
    after = i + 7 + 2 * n
  end
  if name == '' then name, seq = nil, nil end
  local key = prefix .. uuid
  -- The lease member is the token: it exists only while this worker holds this delivery. When
  -- it is missing, the record decides (see settleWithoutLease).
  local held = redis.call('ZREM', KEYS[2], uuid .. '|' .. wid .. '|' .. token) == 1
  local state = 'lost'
  if not held then state = more().settleWithoutLease(key, token, status) end
  if held or state == 'held' then
    if concHeld ~= false then more().concFree(uuid) end
    if status == 'release' and n > 0 then
      more().rate().defer(key, uuid, ARGV[i + 8])
    elseif status == 'release' then
      more().requeue(key, uuid, KEYS[1], 'released')
    else
      local fields
      if status == 'success' then
        fields = { 'status', 'success', 'returning', ARGV[i + 6] }
      else
        fields = { 'status', status }
        for j = 1, 2 * n do fields[2 + j] = ARGV[i + 6 + j] end
      end
      if status == 'retry' then
        more().retry(key, uuid, fields, token, ARGV[after], tonumber(ARGV[after + 1]) or 0,
          tonumber(ARGV[after + 2]) or 1)
      else
        finish(key, uuid, fields, wid, token, nil, plain, name, seq)
      end
    end
  elseif state == 'lost' then
    rejected[#rejected + 1] = uuid
  end
  i = status == 'retry' and after + 3 or after
end

local recovered = 0
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', nowText, 'LIMIT', '0', ARGV[7])
local maxDeliveries = #expired > 0 and tonumber(ARGV[6]) or nil
for _, member in ipairs(expired) do
  local bar = string.find(member, '|', 1, true)
  local uuid = string.sub(member, 1, bar - 1)
  local owner = string.sub(member, bar + 1, string.find(member, '|', bar + 1, true) - 1)
  local key = prefix .. uuid
  redis.call('ZREM', KEYS[2], member)
  if concHeld ~= false then more().concFree(uuid) end
  local r = redis.call('HMGET', key, 'deliveries', 'cancel_requested', 'rate_deferred')
  -- Deliveries given back for a remote rate limit (rate().defer) are no crash.
  local deliveries = (tonumber(r[1] or '0') or 0) - (tonumber(r[3] or '0') or 0)
  if r[2] then
    finish(key, uuid, { 'status', 'cancel', 'cancel_reason', r[2] }, owner, r[1])
  elseif deliveries >= maxDeliveries then
    -- The fields of a DeliveryLimitError (src/model/errors/delivery_limit_error.ts).
    local message = ${LIMIT_MESSAGE[0]} .. deliveries .. ${LIMIT_MESSAGE[1]}
    finish(key, uuid, { 'status', 'error', 'error_type', ${LIMIT_TYPE},
      'error_code', ${LIMIT_CODE}, 'error_message', message,
      'traceback', ${LIMIT_TYPE} .. ': ' .. message }, owner, r[1])
  else
    more().requeue(key, uuid, KEYS[4], 'expired')
  end
  recovered = recovered + 1
end

-- Due scheduled tasks join the queue by their priority and seq.
local moved = 0
local earliest = scheduledHead()
if earliest and earliest <= now then
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', nowText, 'LIMIT', '0', '1000')) do
    redis.call('ZREM', KEYS[5], member)
    local uuid = string.sub(member, 17)
    local r = redis.call('HMGET', prefix .. uuid, 'priority', 'status', 'task_name', 'queue')
    if r[2] == 'new' then
      if not idxMove then more() end
      idxMove(uuid, r[3], string.sub(member, 1, 15), 'scheduled', 'queued')
      if r[4] then wakeQueue(r[4]) end
      redis.call('ZADD', queueKey(r[4]), tonumber(r[1]) or 0, member)
      moved = moved + 1
    elseif not r[2] and not more().rateWoken(member) then
      dropped[#dropped + 1] = uuid
    end
  end
  head = false
end

local claimed, leases = {}, {}
-- Whether a task name (or the app) is paused: set before the claim (then claimed entries of a
-- paused name are parked).
local parking = false

-- The queues to claim from and the task names this worker knows (see the header).
local queues, consumed, known = { 'default' }, nil, nil
local nq = tonumber(ARGV[i]) or 0
if nq > 0 then
  queues, consumed = {}, {}
  for q = 1, nq do
    queues[q] = ARGV[i + q]
    consumed[ARGV[i + q]] = true
  end
  local nn = tonumber(ARGV[i + nq + 1]) or 0
  if nn > 0 then
    known = {}
    for q = 1, nn do known[ARGV[i + nq + 1 + q]] = true end
  end
end
-- Entries this worker may not take, put back after the claim (at most 1000 per exchange), and
-- the sets they came from (their markers are not set again by this worker).
local skipped, skippedFrom = {}, {}

-- Claims up to "limit" tasks from the sorted set "from"; returns how many. "named": a named
-- queue, where tasks this worker does not know are skipped.
-- "emptied[from]" is set when the claim popped "from" empty (ZPOPMIN gave fewer entries than
-- asked and nothing was put back into it since): its ZCARD below is then known to be 0.
local emptied = {}
local want = tonumber(ARGV[4])
local function claimFrom(from, limit, isolated, named)
  local taken = 0
  while taken < limit and #skipped < 2000 do
    local asked = limit - taken
    -- (The count as text when it is the worker's: no number formatting.)
    local popped = redis.call('ZPOPMIN', from, asked == want and ARGV[4] or asked)
    if #popped == 0 then
      emptied[from] = true
      break
    end
    -- Fewer than asked: the set is empty now, and another ZPOPMIN finds nothing unless this
    -- batch puts entries back (an expired task's flow or concurrency slot may queue one).
    local drained, refilled = #popped < 2 * asked, false
    for k = 1, #popped, 2 do
      local uuid = string.sub(popped[k], 17)
      local key = prefix .. uuid
      -- r: ${CLAIM_FIELDS.join(", ")}, ${PLAIN_CLAIM_FIELD}; o: ${
    OPTIONAL_CLAIM_FIELDS.join(", ")
  },
      -- read only when the record lacks the ${PLAIN_CLAIM_FIELD} marker (_claim_fields.ts).
      local r = redis.call('HMGET', key, ${luaFieldArgs([...CLAIM_FIELDS, PLAIN_CLAIM_FIELD])})
      local o = r[8] and NONE or redis.call('HMGET', key, ${luaFieldArgs(OPTIONAL_CLAIM_FIELDS)})
      -- Only a waiting task is claimed: an entry of a finished or running task (written into the
      -- queue by hand) is dropped, never run again.
      local waiting = r[1] and r[5] == 'new'
      if waiting and o[5] and tonumber(o[5]) * 1000 <= now then
        -- Not started by its deadline: it ends as cancel (a TaskExpiredError's fields).
        finish(key, uuid, { 'status', 'cancel', 'cancel_reason', 'expired',
          'error_type', ${EXPIRED_TYPE}, 'error_code', ${EXPIRED_CODE},
          'error_message', ${EXPIRED_MESSAGE},
          'traceback', ${EXPIRED_TYPE} .. ': ' .. ${EXPIRED_MESSAGE} }, '', r[4] or '0', nil, not o[3])
        -- It may have been moved out of its slot's parked tasks: another one takes its turn.
        if o[7] then more().concKick(o[7], o[8]) end
        -- Either may have queued a task, in this set or another one.
        refilled = true
        emptied = {}
      elseif waiting and ((named and known and not known[r[1]])
          or (isolated == 1 and consumed and not consumed[o[4] or 'default'])
          or (isolated == 1 and not consumed and o[4])) then
        skipped[#skipped + 1] = popped[k + 1]
        skipped[#skipped + 1] = popped[k]
        skippedFrom[from] = true
      elseif waiting and parking and idxPark(r[1], popped[k], popped[k + 1]) then
        -- A paused task name: parked until it is resumed (see _index_lua.ts).
      elseif waiting and rateNames[r[1]] and not more().rate().take(uuid, key, r[4], popped[k],
          popped[k + 1]) then
        -- Its rate limit is reached: parked until its window has room (_rate_limit_lua.ts).
      elseif waiting and o[7] and not more().concTake(uuid, o[7], o[8], popped[k], popped[k + 1]) then
        -- Its concurrency limit is reached: parked until a running task of its slot ends.
        more().rateUndo(uuid)
      elseif waiting then
        idxClaim(uuid, r[1])
        -- The delivery count as text: a first delivery needs no tonumber or tostring.
        local deliveries = r[4] == '0' and '1' or tostring((tonumber(r[4]) or 0) + 1)
        leaseAt = leaseAt or string.format('%d', now + tonumber(ARGV[3]))
        redis.call('HSET', key, 'status', 'process', 'worker_id', wid, 'deliveries', deliveries,
          'started_at', stamp, 'updated_at', stamp)
        leases[#leases + 1] = leaseAt
        leases[#leases + 1] = uuid .. '|' .. wid .. '|' .. deliveries
        if listened then redis.call('PUBLISH', ARGV[8], uuid .. ' process') end
        local n = #claimed
        claimed[n + 1] = popped[k]
        claimed[n + 2] = r[1]
        claimed[n + 3] = r[2] or '[]'
        claimed[n + 4] = r[3] or '{}'
        claimed[n + 5] = popped[k + 1]
        claimed[n + 6] = deliveries
        claimed[n + 7] = r[7] or ''
        -- When it became due, as text: the worker computes the wait from it and the reply's
        -- server time (tonumber and math here cost thousands of instructions per task).
        local due = r[6] or ''
        if o[6] and (due == '' or (tonumber(o[6]) or 0) > (tonumber(due) or 0)) then due = o[6] end
        claimed[n + 8] = due
        claimed[n + 9] = (o[1] or o[2] or o[3])
          and (o[1] or '') .. ',' .. (o[2] or '') .. ',' .. (o[3] and '1' or '') or ''
        taken = taken + 1
      else
        dropped[#dropped + 1] = uuid
      end
    end
    if drained and not refilled then
      emptied[from] = true
      break
    end
  end
  return taken
end

-- 1 when the claim took a quarantined task (see the header).
local isolatedClaim = 0
local paused = idxPaused()
parking = next(paused) ~= nil
-- (idxPark is built with the rarely used parts.)
if parking then more() end
if paused['*'] then want = 0 end
if want > 0 then
  if flowControl then more().rateLoadNames() end
  -- An idle worker takes one quarantined task and nothing else; otherwise, the queue.
  -- (The quarantine is known empty when the first EXISTS found none and nothing was recovered.)
  if ARGV[9] == '1' and (flowControl or recovered > 0) and claimFrom(KEYS[4], 1, 1) > 0 then
    isolatedClaim = 1
  end
  if isolatedClaim == 0 then
    if skippedFrom[KEYS[4]] then
      redis.call('ZADD', KEYS[4], unpack(skipped))
      emptied[KEYS[4]] = nil
      skipped = {}
    end
    for _, q in ipairs(queues) do
      if #claimed >= want * ${CLAIMED_WIDTH} then break end
      local from = queueKey(q)
      claimFrom(from, want - #claimed / ${CLAIMED_WIDTH}, 0, from ~= KEYS[1])
      if #skipped > 0 then
        redis.call('ZADD', from, unpack(skipped))
        emptied[from] = nil
        skipped = {}
      end
    end
  elseif #skipped > 0 then
    redis.call('ZADD', KEYS[4], unpack(skipped))
    emptied[KEYS[4]] = nil
  end
  -- One ZADD for every lease taken (in chunks: unpack has a stack limit).
  for j = 1, #leases, 1000 do
    redis.call('ZADD', KEYS[2], unpack(leases, j, math.min(j + 999, #leases)))
  end
end
-- Only a recovered lease adds to the quarantine here (a claim takes from it, and puts back what
-- it skipped of it, only when it held something).
local quarantined = 0
if flowControl or recovered > 0 then quarantined = redis.call('ZCARD', KEYS[4]) end
earliest = scheduledHead()
local nextDue = earliest and math.max(1, earliest - now) or -1
-- A quarantine this worker skipped entries of does not wake its queues again (no busy loop).
local waiting = quarantined > 0 and not skippedFrom[KEYS[4]]
local active = want > 0 or recovered > 0 or moved > 0
if wake or (earliest and #claimed > 0)
  or (active and (waiting or (not emptied[KEYS[1]] and redis.call('ZCARD', KEYS[1]) > 0))) then
  redis.call('ZADD', KEYS[3], 0, '0')
end
if consumed then
  for _, q in ipairs(queues) do
    local from = queueKey(q)
    if from ~= KEYS[1] and not wakes[q] and not skippedFrom[from] and ((earliest and #claimed > 0)
        or (active and (waiting or (not emptied[from] and redis.call('ZCARD', from) > 0)))) then
      wakes[q] = true
    end
  end
end
for q in pairs(wakes) do redis.call('ZADD', KEYS[3] .. ':' .. q, 0, '0') end
idxFlush()
-- An empty list goes back as false (a nil reply): Redis converts each table of the reply with
-- seven field lookups and a deferred length, a nil with none.
return { #claimed > 0 and claimed, #rejected > 0 and rejected, recovered, #dropped > 0 and dropped,
  quarantined, nextDue, now, isolatedClaim }
`,
  6,
);

/**
 * KEYS and ARGV of an exchange.
 *
 * @param keys The app's keys.
 * @param request The worker's request.
 * @param flowTasks The claimed tasks of a chain or group still unsettled (their settlements
 *   carry the flow flag; the others spare the script a read).
 * @param claimedIndex The task name and seq of each claimed task still unsettled: its
 *   settlement carries them (the values the record has), so the script updates the operator's
 *   indexes without reading the record.
 * @returns The call.
 */
export function encodeExchange(
  keys: RedisKeys,
  request: ExchangeRequest,
  flowTasks: ReadonlySet<string>,
  claimedIndex?: ReadonlyMap<string, { taskName: string; seq: string }>,
): ScriptCall {
  const args: string[] = [
    keys.taskPrefix,
    request.workerId,
    String(request.leaseMs),
    String(request.want),
    request.failedTtlMs === undefined
      ? String(request.resultTtlMs)
      : `${request.resultTtlMs}:${request.failedTtlMs}`,
    String(request.maxDeliveries),
    String(request.recoverLimit),
    keys.events,
    request.idle ? "1" : "0",
    String(request.settlements.length),
  ];
  for (const s of request.settlements) {
    args.push(s.uuid, String(s.deliveries), s.status, flowTasks.has(s.uuid) ? "1" : "");
    if (s.status === "release") {
      // A delayed release (a remote rate limit) carries its delay as one field pair.
      if (s.delayMs === undefined) args.push("", "", "0");
      else args.push("", "", "1", "delay", String(Math.max(0, Math.ceil(s.delayMs))));
      continue;
    }
    const index = claimedIndex?.get(s.uuid);
    args.push(index?.taskName ?? "", index?.seq ?? "");
    if (s.status === "success") args.push(s.returning);
    else if (s.status === "cancel") args.push("1", "cancel_reason", s.reason);
    else {
      const fields = Object.entries(errorFields(s.error));
      args.push(String(fields.length));
      for (const [field, value] of fields) args.push(field, value);
    }
    if (s.status === "retry") {
      args.push(s.childUuid, String(Math.max(0, Math.ceil(s.delayMs))), String(s.retriesLeft));
    }
  }
  const queues = request.queues;
  if (queues !== undefined && !(queues.length === 1 && queues[0] === DEFAULT_QUEUE)) {
    args.push(String(queues.length), ...queues);
    // No list: any name; an empty one: none (a name no task has, "").
    const names = request.taskNames;
    if (names === undefined) args.push("0");
    else if (names.length === 0) args.push("1", "");
    else args.push(String(names.length), ...names);
  }
  return {
    keys: [keys.queue, keys.leases, keys.marker, keys.quarantine, keys.scheduled, keys.seq],
    args,
  };
}

/**
 * What an exchange did: the claimed tasks, the rejected settlements, the recovered leases, the
 * dropped entries, the quarantine's size and when the next scheduled task is due.
 *
 * @param reply The script's reply.
 * @param onClaim Told each claimed task's uuid, task name and seq (for the settlement's
 *   index fields, see {@linkcode encodeExchange}).
 * @returns The result.
 * @throws {BackendError} When the reply does not have the documented shape.
 */
export function decodeExchange(
  reply: RedisReply,
  onClaim?: (uuid: string, taskName: string, seq: string) => void,
): ExchangeResult {
  // An empty list comes back as a nil (see the script's header).
  if (
    !Array.isArray(reply) || reply.length !== 8 || !listOrNil(reply[0]) ||
    (reply[0] !== null && reply[0].length % CLAIMED_WIDTH !== 0) || !listOrNil(reply[1]) ||
    !listOrNil(reply[3])
  ) {
    throw malformedReply(
      "exchange",
      "{ claimed, rejected, recovered, dropped, quarantined, next due, now, isolated }",
      reply,
    );
  }
  const flat = (reply[0] ?? NO_ITEMS) as string[];
  const now = Number(reply[6]);
  const isolated = Number(reply[7]) === 1;
  const claimed: ClaimedTask[] = [];
  for (let i = 0; i < flat.length; i += CLAIMED_WIDTH) {
    // The queue member: 15-digit seq, ":", uuid.
    const member = flat[i];
    const task: ClaimedTask = {
      uuid: member.slice(16),
      taskName: flat[i + 1],
      args: flat[i + 2],
      kwargs: flat[i + 3],
      priority: Number(flat[i + 4]),
      deliveries: Number(flat[i + 5]),
      isolated,
    };
    if (flat[i + 6] !== "") {
      const headers = parseHeaders(flat[i + 6]);
      if (headers !== undefined) task.headers = headers;
    }
    // Waited since it was due (the record's time, unix seconds as text), on the server's clock.
    const due = Number(flat[i + 7]) * 1000;
    if (due > 0) task.waitedMs = Math.max(0, Math.floor(now - due));
    // A retry's record says how many retries are left and which attempt it is; a task of a
    // chain or group says so ("retry,attempt,flow"; "" for none of them).
    const more = flat[i + 8];
    if (more !== "") {
      const [retry, attempt, flow] = more.split(",");
      if (retry !== "") task.retriesLeft = Number(retry) || 0;
      if (attempt !== "") task.attempt = Number(attempt) || 1;
      if (flow === "1") task.flow = true;
    }
    onClaim?.(task.uuid, task.taskName, member.slice(0, 15));
    claimed.push(task);
  }
  const result: ExchangeResult = {
    claimed,
    rejected: (reply[1] ?? []) as string[],
    recovered: Number(reply[2]),
    dropped: (reply[3] ?? []) as string[],
    quarantined: Number(reply[4]),
  };
  const nextDue = Number(reply[5]);
  if (nextDue >= 0) result.nextDueMs = nextDue;
  return result;
}

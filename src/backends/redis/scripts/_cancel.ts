import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import type { RedisKeys } from "../redis_keys.ts";
import type { CancelOutcome } from "../../../model/messages.ts";
import { malformedReply } from "./_reply.ts";
import { FLOW_LUA } from "./_flow_lua.ts";
import { INDEX_LUA } from "./_index_lua.ts";

/** Cancels a queued or scheduled task at once, or asks the worker running it to stop. */
export const cancelScript: RedisScript = new RedisScript(
  "cancel",
  `--[[ cancel: cancel a queued or scheduled task at once, or flag a running one and tell its worker.
KEYS[1] queue      ZSET  score = priority, member = 15-digit seq .. ":" .. uuid (a task whose
                         record has a "queue" field is in KEYS[1] .. ":" .. that name)
KEYS[2] quarantine ZSET  like the queue (tasks recovered from a dead worker)
KEYS[3] record     HASH  the task's record
KEYS[4] scheduled  ZSET  tasks not yet due: score = due time, member as in the queue
ARGV[1] uuid
ARGV[2] reason
ARGV[3] result ttl ms
ARGV[4] events channel ("<uuid> <status>" on status changes)
ARGV[5] control channel ("cancel <uuid> <reason>" tells the workers)
ARGV[6] prefix of record keys ("{app}:task:")
A record with status "retry" is followed to its retry_child_uuid (at most 1000 links), so that
cancelling the first task of a retry chain cancels its latest attempt (an expired one: "finished").
A chain's or group's record (a "flow_kind" field) that still runs ends as cancel at once, then its
running steps are cancelled the same way (a chain's current step, a group's members): a step that
still succeeds starts nothing more. A task of a flow that ends here ends its group and chain too.
Returns "cancelled" (it was queued or scheduled: it will never run), "cancelling" (it is running:
its worker aborts it and settles it as cancel), "finished" (already final: unchanged) or
"missing". ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local stamp = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
local prefix, ttl = ARGV[6], tonumber(ARGV[3])
${INDEX_LUA}
local wake = false
local wakes = {}
local flowAfter
-- A cancel ends tasks, never succeeds one: the flow code here only ends groups and chains.
local flowQueue, flowSeq = KEYS[1], nil

local function finish(key, uuid, fields)
  local m = redis.call('HMGET', key, 'task_name', 'seq', 'status')
  idxMove(uuid, m[1], m[2], m[3], fields[2])
  redis.call('HSET', key, 'updated_at', stamp, 'finished_at', stamp, unpack(fields))
  redis.call('PEXPIRE', key, ttl)
  redis.call('PUBLISH', ARGV[4], uuid .. ' ' .. fields[2])
  flowAfter(key, uuid, fields)
end
${FLOW_LUA}
local cancel
cancel = function(uuid, key, depth)
  local r = redis.call('HMGET', key, 'status', 'seq', 'retry_child_uuid', 'flow_kind')
  if r[4] then
    -- A chain or group: its record ends now, then its running steps are cancelled.
    if not FLOW_RUNNING[r[1]] then return 'finished' end
    local f = redis.call('HMGET', key, 'flow_steps', 'flow_current')
    finish(key, uuid, { 'status', 'cancel', 'cancel_reason', ARGV[2] })
    local steps = {}
    if r[4] == 'group' then
      local ok, list = pcall(cjson.decode, f[1] or '[]')
      if ok and type(list) == 'table' then steps = list end
    elseif f[2] then
      steps = { f[2] }
    end
    if depth < 4 then
      for _, step in ipairs(steps) do cancel(step, prefix .. step, depth + 1) end
    end
    return 'cancelled'
  end
  local first = uuid
  for _ = 1, 1000 do
    if r[1] ~= 'retry' or not r[3] then break end
    uuid = r[3]
    key = prefix .. uuid
    r = redis.call('HMGET', key, 'status', 'seq', 'retry_child_uuid')
  end
  if not r[1] then return uuid == first and 'missing' or 'finished' end
  if r[1] == 'new' then
    local member = string.format('%015d', tonumber(r[2]) or 0) .. ':' .. uuid
    local named = redis.call('HGET', key, 'queue')
    redis.call('ZREM', named and KEYS[1] .. ':' .. named or KEYS[1], member)
    redis.call('ZREM', KEYS[2], member)
    redis.call('ZREM', KEYS[4], member)
    redis.call('ZREM', IP .. 'parked:' .. (redis.call('HGET', key, 'task_name') or ''), member)
    finish(key, uuid, { 'status', 'cancel', 'cancel_reason', ARGV[2] })
    return 'cancelled'
  end
  if r[1] == 'process' then
    redis.call('HSET', key, 'cancel_requested', ARGV[2])
    redis.call('PUBLISH', ARGV[5], 'cancel ' .. uuid .. ' ' .. ARGV[2])
    return 'cancelling'
  end
  return 'finished'
end

local outcome = cancel(ARGV[1], KEYS[3], 0)
idxFlush()
return outcome
`,
  4,
);

/** What {@linkcode encodeCancel} takes. */
export interface CancelInput {
  /** The task to cancel. */
  uuid: string;
  /** Why (stored as `cancel_reason`). */
  reason: string;
  /** How long the finished record lives, in ms. */
  resultTtlMs: number;
}

/**
 * KEYS and ARGV of a cancel.
 *
 * @param keys The app's keys.
 * @param input The task and reason.
 * @returns The call.
 */
export function encodeCancel(keys: RedisKeys, input: CancelInput): ScriptCall {
  return {
    keys: [keys.queue, keys.quarantine, keys.task(input.uuid), keys.scheduled],
    args: [
      input.uuid,
      input.reason,
      String(input.resultTtlMs),
      keys.events,
      keys.control,
      keys.taskPrefix,
    ],
  };
}

const OUTCOMES: ReadonlySet<string> = new Set(["cancelled", "cancelling", "finished", "missing"]);

/**
 * The outcome of a cancel.
 *
 * @param reply The script's reply.
 * @returns What the cancel did.
 * @throws {BackendError} When the reply is not one of the four outcomes.
 */
export function decodeCancel(reply: RedisReply): CancelOutcome {
  if (typeof reply !== "string" || !OUTCOMES.has(reply)) {
    throw malformedReply("cancel", '"cancelled", "cancelling", "finished" or "missing"', reply);
  }
  return reply as CancelOutcome;
}

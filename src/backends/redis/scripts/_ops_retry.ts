import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import type { RedisKeys } from "../redis_keys.ts";
import { malformedReply } from "./_reply.ts";
import { INDEX_LUA, INDEX_QUERY_LUA } from "./_index_lua.ts";
import { luaSet, OPERATOR_RETRY_DROPPED_FIELDS } from "../../../model/_attempt_fields.ts";

/** Re-enqueues failed or cancelled tasks as new attempts linked to their old records. */
export const opsRetryScript: RedisScript = new RedisScript(
  "ops_retry",
  `--[[ ops_retry: an operator re-enqueues a failed or cancelled task as a new attempt, atomically:
the new record (the task fields copied, status "new", retry_parent_uuid, attempt + 1, a new seq)
goes into the queue, and the old one gets status "retry" and retry_child_uuid (result() on the
old uuid follows it; "<uuid> retry" is published on the events channel), its expiry unchanged.
The new attempt has no "retry" field: it gets the task's retries afresh.
KEYS none (every key is under the app's hash tag, built from ARGV[1])
ARGV[1] prefix of record keys ("{app}:task:")
ARGV[2] events channel
ARGV[3] mode: "one" or "scan"
one:  ARGV[4] uuid, ARGV[5] the new attempt's uuid
      Returns { "ok", new uuid } | { "missing" } | { "state", query status } (not failed:
      nothing changed) | { "exists" } (the new uuid is taken: nothing changed)
scan: ARGV[4] status ("error" or "cancel"), ARGV[5] the scan starts below this seq ("+inf"),
      ARGV[6] task name or "", ARGV[7] finished since (unix seconds, "" for any time),
      ARGV[8] index entries to read at most, ARGV[9..] uuids for the new attempts (at most that
      many are retried)
      Returns { retried, next seq ("" when the index is done) }. ]]
local prefix, events = ARGV[1], ARGV[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local stamp = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
${INDEX_LUA}
${INDEX_QUERY_LUA}
local ATTEMPT_FIELDS = ${luaSet(OPERATOR_RETRY_DROPPED_FIELDS)}
local STATUS = { new = 'queued', process = 'running' }

local function retryOne(uuid, child)
  local key = prefix .. uuid
  local r = redis.call('HMGET', key, 'status', 'task_name', 'seq', 'flow_kind', 'run_at')
  if not r[1] then return { 'missing' } end
  if (r[1] ~= 'error' and r[1] ~= 'cancel') or r[4] then
    local status = STATUS[r[1]] or r[1]
    if r[1] == 'new' and r[5] and tonumber(r[5]) * 1000 > now then status = 'scheduled' end
    return { 'state', status }
  end
  local childKey = prefix .. child
  if redis.call('EXISTS', childKey) == 1 then return { 'exists' } end
  local parent = redis.call('HGETALL', key)
  local copy, attempt, priority, named = {}, 1, 0, ''
  for j = 1, #parent, 2 do
    local field, value = parent[j], parent[j + 1]
    if field == 'queue' then named = ':' .. value end
    if field == 'attempt' then
      attempt = tonumber(value) or 1
    elseif not ATTEMPT_FIELDS[field] then
      copy[#copy + 1] = field
      copy[#copy + 1] = value
      if field == 'priority' then priority = tonumber(value) or 0 end
    end
  end
  local seq = redis.call('INCR', IP .. 'seq')
  redis.call('HSET', childKey, unpack(copy))
  redis.call('HSET', childKey, 'status', 'new', 'created_at', stamp, 'updated_at', stamp,
    'seq', seq, 'deliveries', 0, 'retry_parent_uuid', uuid, 'attempt', attempt + 1)
  -- Back to its queue: a record's "queue" field names a named one.
  redis.call('ZADD', IP .. 'queue' .. named, priority, string.format('%015d', seq) .. ':' .. child)
  redis.call('ZADD', IP .. 'marker' .. named, 0, '0')
  redis.call('HSET', key, 'status', 'retry', 'retry_child_uuid', child, 'updated_at', stamp)
  idxMove(uuid, r[2], r[3], r[1], 'retry')
  idxMove(child, r[2], seq, nil, 'queued')
  redis.call('PUBLISH', events, uuid .. ' retry')
  return { 'ok', child }
end

local out
if ARGV[3] == 'one' then
  out = retryOne(ARGV[4], ARGV[5])
else
  local status, before, name, since = ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
  local budget, spare = tonumber(ARGV[8]), 9
  local page = idxPage(status, name, before, budget)
  local r = {}
  for _, entry in ipairs(page) do
    r[#r + 1] = entry[1]
    r[#r + 1] = entry[2]
  end
  local retried, last = 0, nil
  for k = 1, #r, 2 do
    if spare > #ARGV then break end
    last = r[k + 1]
    local finished = tonumber(redis.call('HGET', prefix .. r[k], 'finished_at'))
    if not since or (finished and finished >= since) then
      if retryOne(r[k], ARGV[spare])[1] == 'ok' then
        retried = retried + 1
        spare = spare + 1
      end
    end
  end
  local more = last and (#r == 2 * budget or spare > #ARGV)
  out = { retried, more and last or '' }
end
idxFlush()
return out
`,
  0,
);

/**
 * KEYS and ARGV of a retry of one task.
 *
 * @param keys The app's keys.
 * @param uuid The failed task.
 * @param child The new attempt's uuid.
 * @returns The call.
 */
export function encodeOpsRetryOne(keys: RedisKeys, uuid: string, child: string): ScriptCall {
  return { keys: [], args: [keys.taskPrefix, keys.events, "one", uuid, child] };
}

/** What a retry of one task did. */
export type OpsRetryOutcome =
  | { outcome: "ok"; child: string }
  | { outcome: "missing" }
  | { outcome: "exists" }
  | { outcome: "state"; status: string };

/**
 * What a retry of one task did.
 *
 * @param reply The script's reply.
 * @returns The outcome.
 * @throws {BackendError} When the reply does not have the documented shape.
 */
export function decodeOpsRetryOne(reply: RedisReply): OpsRetryOutcome {
  if (Array.isArray(reply)) {
    const [outcome, value] = reply;
    if (outcome === "ok" && typeof value === "string") return { outcome, child: value };
    if (outcome === "missing" || outcome === "exists") return { outcome };
    if (outcome === "state" && typeof value === "string") return { outcome, status: value };
  }
  throw malformedReply("ops_retry", '{ "ok", uuid } | { "missing" } | { "state", status }', reply);
}

/** What {@linkcode encodeOpsRetryScan} takes. */
export interface OpsRetryScanInput {
  /** `error` or `cancel`. */
  status: "error" | "cancel";
  /** Below this seq (Infinity: from the newest). */
  before: number;
  /** Only this task's records. */
  taskName?: string;
  /** Only records finished at or after this time (ms). */
  sinceMs?: number;
  /** Index entries to read at most. */
  budget: number;
  /** The new attempts' uuids: at most that many are retried. */
  children: readonly string[];
}

/**
 * KEYS and ARGV of one chunk of a retry of every matching task.
 *
 * @param keys The app's keys.
 * @param input The chunk.
 * @returns The call.
 */
export function encodeOpsRetryScan(keys: RedisKeys, input: OpsRetryScanInput): ScriptCall {
  return {
    keys: [],
    args: [
      keys.taskPrefix,
      keys.events,
      "scan",
      input.status,
      Number.isFinite(input.before) ? String(input.before) : "+inf",
      input.taskName ?? "",
      input.sinceMs === undefined ? "" : String(input.sinceMs / 1000),
      String(input.budget),
      ...input.children,
    ],
  };
}

/**
 * How many tasks a chunk retried, and where the next chunk starts.
 *
 * @param reply The script's reply.
 * @returns The count and the next seq (absent when done).
 * @throws {BackendError} When the reply does not have the documented shape.
 */
export function decodeOpsRetryScan(reply: RedisReply): { retried: number; next?: number } {
  if (!Array.isArray(reply) || reply.length !== 2 || !Number.isInteger(Number(reply[0]))) {
    throw malformedReply("ops_retry", "{ retried, next seq }", reply);
  }
  const result: { retried: number; next?: number } = { retried: Number(reply[0]) };
  if (reply[1] !== "" && reply[1] !== null) result.next = Number(reply[1]);
  return result;
}

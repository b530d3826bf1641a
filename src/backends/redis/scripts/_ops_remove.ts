import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import type { RedisKeys } from "../redis_keys.ts";
import { malformedReply } from "./_reply.ts";
import { INDEX_LUA, INDEX_QUERY_LUA } from "./_index_lua.ts";

/** Deletes task records: one (delete), finished ones by age (clean), waiting ones (drain). */
export const opsRemoveScript: RedisScript = new RedisScript(
  "ops_remove",
  `--[[ ops_remove: an operator deletes tasks, each atomically: its record, its queue, quarantine,
schedule or parking entry and its index entries (a queued task deleted here never runs). A
running task is never deleted.
KEYS none (every key is under the app's hash tag, built from ARGV[1])
ARGV[1] prefix of record keys ("{app}:task:")
ARGV[2] mode: "one" or "scan"
one:  ARGV[3] uuid. Returns { "ok" } | { "missing" } | { "state", "running" }
scan: ARGV[3] query status whose index is read, ARGV[4] the scan starts below this seq ("+inf"),
      ARGV[5] task name or "", ARGV[6] only records finished at or before this (unix seconds,
      "" for any), ARGV[7] index entries to read at most, ARGV[8] records to delete at most
      Returns { deleted, next seq ("" when the index is done) }. ]]
local prefix = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
${INDEX_LUA}
${INDEX_QUERY_LUA}

-- Deletes one record unless it runs; returns "ok", "missing" or "running".
local function removeOne(uuid, before)
  local key = prefix .. uuid
  local r = redis.call('HMGET', key, 'status', 'task_name', 'seq', 'finished_at', 'queue')
  if not r[1] then return 'missing' end
  if r[1] == 'process' then return 'running' end
  if before and not (tonumber(r[4]) and tonumber(r[4]) <= before) then return 'kept' end
  if r[1] == 'new' then
    local member = string.format('%015d', tonumber(r[3]) or 0) .. ':' .. uuid
    local named = r[5] and 'queue:' .. r[5] or 'queue'
    for _, queue in ipairs({ named, 'quarantine', 'scheduled', 'parked:' .. (r[2] or '') }) do
      redis.call('ZREM', IP .. queue, member)
    end
  end
  redis.call('DEL', key)
  idxMove(uuid, r[2] or '', r[3], r[1], nil)
  return 'ok'
end

local out
if ARGV[2] == 'one' then
  local outcome = removeOne(ARGV[3])
  out = outcome == 'running' and { 'state', 'running' } or { outcome }
else
  local status, before, name = ARGV[3], ARGV[4], ARGV[5]
  local cutoff, budget, most = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
  local page = idxPage(status, name, before, budget)
  local r = {}
  for _, entry in ipairs(page) do
    r[#r + 1] = entry[1]
    r[#r + 1] = entry[2]
  end
  local deleted, last, full = 0, nil, false
  for k = 1, #r, 2 do
    if deleted >= most then
      full = true
      break
    end
    last = r[k + 1]
    if removeOne(r[k], cutoff) == 'ok' then deleted = deleted + 1 end
  end
  local more = last and (full or #r == 2 * budget)
  out = { deleted, more and last or '' }
end
idxFlush()
return out
`,
  0,
);

/**
 * KEYS and ARGV of a delete of one task.
 *
 * @param keys The app's keys.
 * @param uuid The task.
 * @returns The call.
 */
export function encodeOpsRemoveOne(keys: RedisKeys, uuid: string): ScriptCall {
  return { keys: [], args: [keys.taskPrefix, "one", uuid] };
}

/**
 * What a delete of one task did.
 *
 * @param reply The script's reply.
 * @returns `ok`, `missing` or `running`.
 * @throws {BackendError} When the reply does not have the documented shape.
 */
export function decodeOpsRemoveOne(reply: RedisReply): "ok" | "missing" | "running" {
  if (Array.isArray(reply)) {
    if (reply[0] === "ok" || reply[0] === "missing") return reply[0];
    if (reply[0] === "state") return "running";
  }
  throw malformedReply("ops_remove", '{ "ok" } | { "missing" } | { "state", "running" }', reply);
}

/** What {@linkcode encodeOpsRemoveScan} takes. */
export interface OpsRemoveScanInput {
  /** The query status whose index is read. */
  status: string;
  /** Below this seq (Infinity: from the newest). */
  before: number;
  /** Only this task's records. */
  taskName?: string;
  /** Only records finished at or before this time (ms). */
  finishedBeforeMs?: number;
  /** Index entries to read at most. */
  budget: number;
  /** Records to delete at most. */
  most: number;
}

/**
 * KEYS and ARGV of one chunk of a clean or drain.
 *
 * @param keys The app's keys.
 * @param input The chunk.
 * @returns The call.
 */
export function encodeOpsRemoveScan(keys: RedisKeys, input: OpsRemoveScanInput): ScriptCall {
  return {
    keys: [],
    args: [
      keys.taskPrefix,
      "scan",
      input.status,
      Number.isFinite(input.before) ? String(input.before) : "+inf",
      input.taskName ?? "",
      input.finishedBeforeMs === undefined ? "" : String(input.finishedBeforeMs / 1000),
      String(input.budget),
      String(input.most),
    ],
  };
}

/**
 * How many records a chunk deleted, and where the next chunk starts.
 *
 * @param reply The script's reply.
 * @returns The count and the next seq (absent when done).
 * @throws {BackendError} When the reply does not have the documented shape.
 */
export function decodeOpsRemoveScan(reply: RedisReply): { deleted: number; next?: number } {
  if (!Array.isArray(reply) || reply.length !== 2 || !Number.isInteger(Number(reply[0]))) {
    throw malformedReply("ops_remove", "{ deleted, next seq }", reply);
  }
  const result: { deleted: number; next?: number } = { deleted: Number(reply[0]) };
  if (reply[1] !== "" && reply[1] !== null) result.next = Number(reply[1]);
  return result;
}

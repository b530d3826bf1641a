import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import type { RedisKeys } from "../redis_keys.ts";
import type { TaskFields } from "../../../model/task_record.ts";
import { QUERY_STATUSES, type QueryStatus } from "../../../model/task_query.ts";
import { malformedReply, replyPairs } from "./_reply.ts";
import { INDEX_LUA, INDEX_QUERY_LUA } from "./_index_lua.ts";

/** Reads one page of records from the operator's indexes. */
export const opsListScript: RedisScript = new RedisScript(
  "ops_list",
  `--[[ ops_list: one page of task records, newest first (by seq), from the operator's indexes
(_index_lua.ts), filtered by status and task name; also trims the entries of expired records.
KEYS none (every key is under the app's hash tag, built from ARGV[1])
ARGV[1] prefix of record keys ("{app}:task:")
ARGV[2] the page starts below this seq ("+inf": from the newest)
ARGV[3] page size L
ARGV[4] task name, or "" for every task
ARGV[5..] the query statuses to read (one index each; their pages are merged by seq)
Returns { next seq ("" when no record is left), uuid 1, fields 1 (HGETALL), uuid 2, ... }:
at most L records; an entry whose record is gone (it expired) is skipped. ]]
local prefix = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
${INDEX_LUA}
${INDEX_QUERY_LUA}
idxTrim(ARGV[4] or '', 100)
local before, limit, name = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local cands = {}
for j = 5, #ARGV do
  for _, entry in ipairs(idxPage(ARGV[j], name, before, limit + 1)) do cands[#cands + 1] = entry end
end
table.sort(cands, function(a, b) return a[2] > b[2] end)
local out = { '' }
local last = nil
for k = 1, math.min(limit, #cands) do
  local fields = redis.call('HGETALL', prefix .. cands[k][1])
  if #fields > 0 then
    out[#out + 1] = cands[k][1]
    out[#out + 1] = fields
  end
  last = cands[k][2]
end
if #cands > limit then out[1] = tostring(last) end
return out
`,
  0,
);

/** What {@linkcode encodeOpsList} takes. */
export interface OpsListInput {
  /** Records below this seq (Infinity: from the newest). */
  before: number;
  /** Page size. */
  limit: number;
  /** Only this task's records. */
  taskName?: string;
  /** Only this status (default: all). */
  status?: QueryStatus;
}

/**
 * KEYS and ARGV of a page query.
 *
 * @param keys The app's keys.
 * @param input The checked query.
 * @returns The call.
 */
export function encodeOpsList(keys: RedisKeys, input: OpsListInput): ScriptCall {
  return {
    keys: [],
    args: [
      keys.taskPrefix,
      Number.isFinite(input.before) ? String(input.before) : "+inf",
      String(input.limit),
      input.taskName ?? "",
      ...(input.status ? [input.status] : QUERY_STATUSES),
    ],
  };
}

/** One page as the script returns it. */
export interface OpsListPage {
  /** The records' uuids and fields, newest first. */
  entries: Array<[string, TaskFields]>;
  /** The seq the next page starts below; absent on the last page. */
  next?: number;
}

/**
 * The page.
 *
 * @param reply The script's reply.
 * @returns The records and where the next page starts.
 * @throws {BackendError} When the reply does not have the documented shape.
 */
export function decodeOpsList(reply: RedisReply): OpsListPage {
  if (!Array.isArray(reply) || reply.length % 2 !== 1 || typeof reply[0] !== "string") {
    throw malformedReply("ops_list", "{ next seq, uuid, fields, ... }", reply);
  }
  const entries: Array<[string, TaskFields]> = [];
  for (let i = 1; i < reply.length; i += 2) {
    entries.push([String(reply[i]), replyPairs(reply[i + 1])]);
  }
  const page: OpsListPage = { entries };
  if (reply[0] !== "") page.next = Number(reply[0]);
  return page;
}

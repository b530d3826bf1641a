import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import type { RedisKeys } from "../redis_keys.ts";
import { QUERY_STATUSES, type TaskCounts, zeroCounts } from "../../../model/task_query.ts";
import { malformedReply } from "./_reply.ts";
import { INDEX_LUA, INDEX_QUERY_LUA } from "./_index_lua.ts";

/** Counts the records per status and task name, and reads what is paused. */
export const opsCountsScript: RedisScript = new RedisScript(
  "ops_counts",
  `--[[ ops_counts: how many records each status holds, in all and per task name (ZCARD of the
operator's indexes, _index_lua.ts, after trimming the entries of expired records; queued tasks
from the counters of {app}:i:queued, running ones from the leases), and the paused task names. A task name left with no record leaves {app}:i:names.
KEYS none (every key is under the app's hash tag, built from ARGV[1])
ARGV[1] prefix of record keys ("{app}:task:")
ARGV[2..] the query statuses, in the order of the reply's counts
Returns { counts per status, { name, counts per status, ... } (at most 1000 names), paused names
("*": the app) }. ]]
local prefix = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
${INDEX_LUA}
${INDEX_QUERY_LUA}
idxTrim('', 100)
-- Running tasks hold a lease: counted per task name from the leases (bounded by the workers'
-- concurrency); chains and groups from their index.
local running = {}
for _, member in ipairs(redis.call('ZRANGE', IP .. 'leases', 0, -1)) do
  local uuid = string.sub(member, 1, (string.find(member, '|', 1, true) or 0) - 1)
  local r = redis.call('HMGET', prefix .. uuid, 'task_name', 'status')
  if r[1] and r[2] == 'process' then running[r[1]] = (running[r[1]] or 0) + 1 end
end
local totals = {}
for j = 2, #ARGV do totals[j - 1] = 0 end
local names = redis.call('SRANDMEMBER', IP .. 'i:names', 1000)
local byName = {}
for _, name in ipairs(names) do
  local counts, any = {}, false
  for j = 2, #ARGV do
    local count
    if ARGV[j] == 'running' and string.sub(name, 1, 1) ~= '@' then
      count = running[name] or 0
    elseif ARGV[j] == 'queued' then
      count = idxQueuedCount(name)
    else
      count = redis.call('ZCARD', IP .. 'i:' .. ARGV[j] .. ':' .. name)
    end
    counts[j - 1] = count
    totals[j - 1] = totals[j - 1] + count
    if count > 0 then any = true end
  end
  if any then
    byName[#byName + 1] = name
    byName[#byName + 1] = counts
  elseif redis.call('EXISTS', IP .. 'parked:' .. name) == 0 then
    redis.call('SREM', IP .. 'i:names', name)
  end
end
return { totals, byName, redis.call('HKEYS', IP .. 'paused') }
`,
  0,
);

/**
 * KEYS and ARGV of a count.
 *
 * @param keys The app's keys.
 * @returns The call.
 */
export function encodeOpsCounts(keys: RedisKeys): ScriptCall {
  return { keys: [], args: [keys.taskPrefix, ...QUERY_STATUSES] };
}

/**
 * The counts.
 *
 * @param reply The script's reply.
 * @returns Counts per status and task name, and the paused state.
 * @throws {BackendError} When the reply does not have the documented shape.
 */
export function decodeOpsCounts(reply: RedisReply): TaskCounts {
  if (
    !Array.isArray(reply) || reply.length !== 3 || !Array.isArray(reply[0]) ||
    !Array.isArray(reply[1]) || !Array.isArray(reply[2])
  ) {
    throw malformedReply("ops_counts", "{ counts, { name, counts, ... }, paused }", reply);
  }
  const toCounts = (list: RedisReply[]) => {
    const counts = zeroCounts();
    QUERY_STATUSES.forEach((status, i) => counts[status] = Number(list[i]) || 0);
    return counts;
  };
  const byTaskName: TaskCounts["byTaskName"] = {};
  const flat = reply[1] as RedisReply[];
  const names: string[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) names.push(String(flat[i]));
  const order = names.map((name, i) => [name, i] as const).sort((a, b) =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0
  );
  for (const [name, i] of order) byTaskName[name] = toCounts(flat[2 * i + 1] as RedisReply[]);
  const paused = (reply[2] as RedisReply[]).map(String);
  return {
    byStatus: toCounts(reply[0] as RedisReply[]),
    byTaskName,
    paused: { app: paused.includes("*"), taskNames: paused.filter((n) => n !== "*").sort() },
  };
}

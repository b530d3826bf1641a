import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import type { RedisKeys } from "../redis_keys.ts";
import type { QueueStats } from "../../../model/queue_stats.ts";
import { malformedReply, replyArray, replyInteger } from "./_reply.ts";
import { RATE_WAKE } from "./_rate_limit_lua.ts";

/** Counts the queued tasks per priority, and the quarantined, scheduled and leased ones. */
export const queueStatsScript: RedisScript = new RedisScript(
  "queue_stats",
  `--[[ queue_stats: queue depth per priority, without reading the members.
KEYS[1] queue       ZSET  score = priority, member = seq:uuid
KEYS[2] quarantine  ZSET  like the queue
KEYS[3] scheduled   ZSET  score = due time (ms); its member "rate" is not a task (not counted)
KEYS[4] leases      ZSET  claimed tasks (running or claimed ahead)
ARGV[1] most distinct priorities to count (the rest are summed into the last one counted)
Returns { { priority, count, ... }, quarantined, scheduled, leased }: each distinct score is
found with one ZRANGEBYSCORE ... LIMIT 0 1 and counted with ZCOUNT (log N each). ]]
local depth = {}
local from = '-inf'
for i = 1, tonumber(ARGV[1]) do
  local head = redis.call('ZRANGEBYSCORE', KEYS[1], from, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #head == 0 then break end
  local score = head[2]
  local to = score
  if i == tonumber(ARGV[1]) then to = '+inf' end
  depth[#depth + 1] = score
  depth[#depth + 1] = redis.call('ZCOUNT', KEYS[1], score, to)
  from = '(' .. score
end
-- The schedule's member "rate" (RATE_WAKE, _rate_limit_lua.ts) wakes rate-limited tasks: no task.
local scheduled = redis.call('ZCARD', KEYS[3])
if scheduled > 0 and redis.call('ZSCORE', KEYS[3], '${RATE_WAKE}') then scheduled = scheduled - 1 end
return { depth, redis.call('ZCARD', KEYS[2]), scheduled, redis.call('ZCARD', KEYS[4]) }
`,
  4,
);

/**
 * KEYS and ARGV of a queue count.
 *
 * @param keys The app's keys.
 * @param maxPriorities Most distinct priorities to count (the rest go into the last one).
 * @returns The call.
 */
export function encodeQueueStats(keys: RedisKeys, maxPriorities: number): ScriptCall {
  return {
    keys: [keys.queue, keys.quarantine, keys.scheduled, keys.leases],
    args: [String(maxPriorities)],
  };
}

/**
 * The queue's counts.
 *
 * @param reply The script's reply.
 * @returns Queued tasks per priority, quarantined, scheduled and leased ones.
 * @throws {BackendError} When the reply does not have the documented shape.
 */
export function decodeQueueStats(reply: RedisReply): QueueStats {
  const [depth, quarantined, scheduled, leased] = replyArray("queue_stats", reply, 4);
  if (!Array.isArray(depth) || depth.length % 2 !== 0) {
    throw malformedReply("queue_stats", "{ { priority, count, ... }, n, n, n }", reply);
  }
  const byPriority: QueueStats["byPriority"] = [];
  let queued = 0;
  for (let i = 0; i < depth.length; i += 2) {
    const count = Number(depth[i + 1]);
    byPriority.push({ priority: Number(depth[i]), count });
    queued += count;
  }
  return {
    queued,
    byPriority,
    quarantined: replyInteger("queue_stats", quarantined),
    scheduled: replyInteger("queue_stats", scheduled),
    inFlight: replyInteger("queue_stats", leased),
  };
}

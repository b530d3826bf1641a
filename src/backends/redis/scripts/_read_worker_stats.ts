import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import type { RedisKeys } from "../redis_keys.ts";
import type { WorkerInfo, WorkerStats } from "../../../model/worker_report.ts";
import { malformedReply, replyArray, replyInteger, replyPairs } from "./_reply.ts";

/** Reads the live workers' records, the app's counters and the last minute's buckets. */
export const readWorkerStatsScript: RedisScript = new RedisScript(
  "read_worker_stats",
  `--[[ read_worker_stats: one consistent read of the worker side of an app's stats.
KEYS[1] workers        ZSET  live workers: score = record expiry (ms, server time), member = worker id
KEYS[2] totals         HASH  the app's counters: processed, failed
KEYS[3] bucket prefix  the throughput bucket of server time t is the HASH KEYS[3] .. floor(t / 10000) * 10
KEYS[4] worker prefix  a worker's record is the HASH KEYS[4] .. worker id
ARGV[1] buckets to sum (the current one and those before it)
Returns { now (ms), totals (field, value pairs), { processed, failed } of the buckets,
          { worker id, record (field, value pairs), ... } } for the live workers, oldest first. ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
local workers = {}
for _, id in ipairs(ids) do
  local record = redis.call('HGETALL', KEYS[4] .. id)
  if #record > 0 then
    workers[#workers + 1] = id
    workers[#workers + 1] = record
  end
end
local current = math.floor(now / 10000) * 10
local processed, failed = 0, 0
for i = 0, tonumber(ARGV[1]) - 1 do
  local counts = redis.call('HMGET', KEYS[3] .. tostring(current - i * 10), 'processed', 'failed')
  processed = processed + (tonumber(counts[1]) or 0)
  failed = failed + (tonumber(counts[2]) or 0)
end
return { now, redis.call('HGETALL', KEYS[2]), { processed, failed }, workers }
`,
  4,
);

/**
 * KEYS and ARGV of a stats read.
 *
 * @param keys The app's keys.
 * @param buckets How many 10-second buckets to sum (the current one and those before it).
 * @returns The call.
 */
export function encodeReadWorkerStats(keys: RedisKeys, buckets: number): ScriptCall {
  return {
    keys: [keys.statsWorkers, keys.statsTotals, keys.statsBucketPrefix, keys.statsWorkerPrefix],
    args: [String(buckets)],
  };
}

/**
 * The worker side of the app's stats: live workers (oldest first), counters and the buckets'
 * sums.
 *
 * @param reply The script's reply.
 * @returns The stats.
 * @throws {BackendError} When the reply does not have the documented shape.
 */
export function decodeReadWorkerStats(reply: RedisReply): WorkerStats {
  const [now, totals, minute, list] = replyArray("read_worker_stats", reply, 4);
  if (!Array.isArray(minute) || !Array.isArray(list) || list.length % 2 !== 0) {
    throw malformedReply(
      "read_worker_stats",
      "{ now, totals, { processed, failed }, { id, record, ... } }",
      reply,
    );
  }
  const counts = replyPairs(totals);
  const workers: WorkerInfo[] = [];
  for (let i = 0; i < list.length; i += 2) {
    const fields = replyPairs(list[i + 1]);
    workers.push({
      workerId: String(list[i]),
      host: fields.host ?? "",
      pid: Number(fields.pid) || 0,
      runtime: fields.runtime ?? "",
      concurrency: Number(fields.concurrency) || 0,
      startedAt: Number(fields.started_at) || 0,
      seenAt: Number(fields.seen_at) || 0,
      active: Number(fields.active) || 0,
      processed: Number(fields.processed) || 0,
      failed: Number(fields.failed) || 0,
    });
  }
  workers.sort((a, b) => a.startedAt - b.startedAt);
  return {
    now: replyInteger("read_worker_stats", now),
    workers,
    processed: Number(counts.processed) || 0,
    failed: Number(counts.failed) || 0,
    lastMinute: { processed: Number(minute[0]) || 0, failed: Number(minute[1]) || 0 },
  };
}

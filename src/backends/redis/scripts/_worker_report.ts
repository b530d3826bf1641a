import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import type { RedisKeys } from "../redis_keys.ts";
import type { WorkerReport } from "../../../model/worker_report.ts";
import { replyInteger } from "./_reply.ts";

/** Records a worker's heartbeat record and adds its counter deltas. */
export const workerReportScript: RedisScript = new RedisScript(
  "worker_report",
  `--[[ worker_report: a worker's stats report, flushed every statsIntervalMs and at its stop.
KEYS[1] workers  ZSET  live workers: score = record expiry (ms, server time), member = worker id
KEYS[2] worker   HASH  this worker's record: host, pid, runtime, concurrency, started_at,
                       active, seen_at, processed, failed (PEXPIRE ttl)
KEYS[3] totals   HASH  the app's counters: processed, failed
KEYS[4] bucket prefix: the throughput bucket of server time t is the HASH
                       KEYS[4] .. floor(t / 10000) * 10 (processed, failed; PEXPIRE 62 min:
                       an hour of history for read_throughput)
ARGV[1] worker id
ARGV[2] ttl ms
ARGV[3] processed since the previous report
ARGV[4] failed since the previous report
ARGV[5] "1" when the worker stopped (its record is removed), else "0"
ARGV[6..] field, value pairs of the record
A stop report finding neither the worker's record nor the totals (flushAll since the last report)
adds nothing, so no key of the app outlives flushAll.
Returns the number of live workers. ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local processed = tonumber(ARGV[3])
local failed = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
-- The stop report of a worker whose record and app totals are gone (flushAll since its last
-- report) brings nothing back: its counts were flushed with the rest.
local flushed = ARGV[5] == '1' and redis.call('EXISTS', KEYS[2]) == 0
  and redis.call('EXISTS', KEYS[3]) == 0
if (processed > 0 or failed > 0) and not flushed then
  redis.call('HINCRBY', KEYS[3], 'processed', processed)
  redis.call('HINCRBY', KEYS[3], 'failed', failed)
  local bucket = KEYS[4] .. tostring(math.floor(now / 10000) * 10)
  redis.call('HINCRBY', bucket, 'processed', processed)
  redis.call('HINCRBY', bucket, 'failed', failed)
  redis.call('PEXPIRE', bucket, 3720000)
end
if ARGV[5] == '1' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('DEL', KEYS[2])
else
  if #ARGV >= 7 then redis.call('HSET', KEYS[2], unpack(ARGV, 6)) end
  redis.call('HSET', KEYS[2], 'seen_at', now)
  redis.call('HINCRBY', KEYS[2], 'processed', processed)
  redis.call('HINCRBY', KEYS[2], 'failed', failed)
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return redis.call('ZCARD', KEYS[1])
`,
  4,
);

/**
 * KEYS and ARGV of a worker's report.
 *
 * @param keys The app's keys.
 * @param report The report.
 * @returns The call.
 */
export function encodeWorkerReport(keys: RedisKeys, report: WorkerReport): ScriptCall {
  return {
    keys: [
      keys.statsWorkers,
      keys.statsWorkerPrefix + report.workerId,
      keys.statsTotals,
      keys.statsBucketPrefix,
    ],
    args: [
      report.workerId,
      String(report.ttlMs),
      String(report.processed),
      String(report.failed),
      report.stopped ? "1" : "0",
      "host",
      report.host,
      "pid",
      String(report.pid),
      "runtime",
      report.runtime,
      "concurrency",
      String(report.concurrency),
      "started_at",
      String(report.startedAt),
      "active",
      String(report.active),
    ],
  };
}

/**
 * The number of live workers.
 *
 * @param reply The script's reply.
 * @returns The count.
 * @throws {BackendError} When the reply is not an integer.
 */
export function decodeWorkerReport(reply: RedisReply): number {
  return replyInteger("worker_report", reply);
}

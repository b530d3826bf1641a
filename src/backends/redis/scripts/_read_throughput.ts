import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import type { RedisKeys } from "../redis_keys.ts";
import type { ThroughputMinute } from "../../../model/worker_report.ts";
import { malformedReply, replyArray, replyInteger } from "./_reply.ts";

/** Sums the app's 10-second throughput buckets per minute, over the last minutes. */
export const readThroughputScript: RedisScript = new RedisScript(
  "read_throughput",
  `--[[ read_throughput: tasks finished per minute of server time, oldest first.
KEYS[1] bucket prefix  the throughput bucket of server time t is the HASH KEYS[1] .. floor(t / 10000) * 10
                       (processed, failed; written by worker_report, kept 62 minutes)
ARGV[1] minutes (1 to 60): the current minute and those before it
Returns { now (ms), { minute start (ms), processed, failed, ... } } (6 HMGET per minute). ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local current = math.floor(now / 60000)
local out = {}
for m = current - tonumber(ARGV[1]) + 1, current do
  local processed, failed = 0, 0
  for s = 0, 50, 10 do
    local counts = redis.call('HMGET', KEYS[1] .. tostring(m * 60 + s), 'processed', 'failed')
    processed = processed + (tonumber(counts[1]) or 0)
    failed = failed + (tonumber(counts[2]) or 0)
  end
  out[#out + 1] = m * 60000
  out[#out + 1] = processed
  out[#out + 1] = failed
end
return { now, out }
`,
  1,
);

/**
 * KEYS and ARGV of a throughput read.
 *
 * @param keys The app's keys.
 * @param minutes How many minutes (1 to 60, checked by the caller).
 * @returns The call.
 */
export function encodeReadThroughput(keys: RedisKeys, minutes: number): ScriptCall {
  return { keys: [keys.statsBucketPrefix], args: [String(minutes)] };
}

/**
 * The minutes of a throughput read, oldest first.
 *
 * @param reply The script's reply.
 * @returns One entry per minute.
 * @throws {BackendError} When the reply does not have the documented shape.
 */
export function decodeReadThroughput(reply: RedisReply): ThroughputMinute[] {
  const [now, list] = replyArray("read_throughput", reply, 2);
  replyInteger("read_throughput", now);
  if (!Array.isArray(list) || list.length % 3 !== 0) {
    throw malformedReply("read_throughput", "{ now, { at, processed, failed, ... } }", reply);
  }
  const minutes: ThroughputMinute[] = [];
  for (let i = 0; i < list.length; i += 3) {
    minutes.push({
      at: Number(list[i]),
      processed: Number(list[i + 1]) || 0,
      failed: Number(list[i + 2]) || 0,
    });
  }
  return minutes;
}

import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import type { RedisKeys } from "../redis_keys.ts";
import { replyInteger } from "./_reply.ts";

/** Stores a running task's progress, if the reporting worker still holds that delivery. */
export const reportProgressScript: RedisScript = new RedisScript(
  "report_progress",
  `--[[ report_progress: store a running task's progress; only the owner's current delivery may.
KEYS[1] leases  ZSET  score = lease deadline (ms, server time),
                      member = uuid .. "|" .. worker id .. "|" .. deliveries (the lease token)
KEYS[2] record  HASH  the task's record
ARGV[1] uuid
ARGV[2] worker id
ARGV[3] deliveries (the lease token)
ARGV[4] progress (JSON text), stored in the field "progress"
ARGV[5] events channel: "<uuid> progress" is published, so waiters can be told
ARGV[6] the public event stream ({"uuid","taskName","status":"progress","at"} while it has a
        subscriber; see _index_lua.ts)
Returns 1 when stored, 0 when that worker no longer holds that delivery (nothing written). ]]
if not redis.call('ZSCORE', KEYS[1], ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[3]) then return 0 end
local t = redis.call('TIME')
redis.call('HSET', KEYS[2], 'progress', ARGV[4],
  'updated_at', t[1] .. '.' .. string.format('%06d', tonumber(t[2])))
redis.call('PUBLISH', ARGV[5], ARGV[1] .. ' progress')
if ARGV[6] and redis.call('PUBSUB', 'NUMSUB', ARGV[6])[2] > 0 then
  redis.call('PUBLISH', ARGV[6], cjson.encode({ uuid = ARGV[1], status = 'progress',
    taskName = redis.call('HGET', KEYS[2], 'task_name'),
    at = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) }))
end
return 1
`,
  2,
);

/** What {@linkcode encodeReportProgress} takes. */
export interface ReportProgressInput {
  /** The worker that reports. */
  workerId: string;
  /** The running task. */
  uuid: string;
  /** Its delivery (the lease token). */
  deliveries: number;
  /** The progress, as JSON text. */
  progress: string;
}

/**
 * KEYS and ARGV of a progress report.
 *
 * @param keys The app's keys.
 * @param input The task, its lease and the progress.
 * @returns The call.
 */
export function encodeReportProgress(keys: RedisKeys, input: ReportProgressInput): ScriptCall {
  return {
    keys: [keys.leases, keys.task(input.uuid)],
    args: [
      input.uuid,
      input.workerId,
      String(input.deliveries),
      input.progress,
      keys.events,
      `${keys.prefix}stream`,
    ],
  };
}

/**
 * Whether the progress was stored (the worker still held that delivery).
 *
 * @param reply The script's reply.
 * @returns `true` when stored.
 * @throws {BackendError} When the reply is not 0 or 1.
 */
export function decodeReportProgress(reply: RedisReply): boolean {
  return replyInteger("report_progress", reply) === 1;
}

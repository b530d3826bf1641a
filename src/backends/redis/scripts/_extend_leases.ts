import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import type { RedisKeys } from "../redis_keys.ts";
import type { Lease, LeaseRenewal } from "../../../model/messages.ts";
import { malformedReply, replyArray } from "./_reply.ts";

/** Renews the leases a worker still holds. */
export const extendLeasesScript: RedisScript = new RedisScript(
  "extend_leases",
  `--[[ extend_leases: renew the leases a worker still holds.
KEYS[1] leases  ZSET  score = lease deadline (ms, server time),
                      member = uuid .. "|" .. worker id .. "|" .. deliveries
ARGV[1] prefix of record keys ("{app}:task:")
ARGV[2] worker id
ARGV[3] lease duration ms
ARGV[4..] uuid, deliveries pairs
A lease missing from the key while the record still says this worker runs that delivery
(status process, worker_id, deliveries) is written again: the key was deleted or evicted.
Returns { lost, cancelled }: the uuids whose lease the worker no longer holds, and uuid/reason
pairs of held tasks whose cancel was requested (in case the control message was missed). ]]
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[3])
local lost, cancelled = {}, {}
for i = 4, #ARGV, 2 do
  local uuid = ARGV[i]
  local member = uuid .. '|' .. ARGV[2] .. '|' .. ARGV[i + 1]
  if redis.call('ZSCORE', KEYS[1], member) then
    redis.call('ZADD', KEYS[1], 'XX', deadline, member)
    local reason = redis.call('HGET', ARGV[1] .. uuid, 'cancel_requested')
    if reason then
      cancelled[#cancelled + 1] = uuid
      cancelled[#cancelled + 1] = reason
    end
  else
    -- The member is missing: when the record still says this worker runs this delivery, the
    -- leases key lost it (deleted, evicted) and the lease is written again; else it was recovered.
    local r = redis.call('HMGET', ARGV[1] .. uuid, 'status', 'worker_id', 'deliveries')
    if r[1] == 'process' and r[2] == ARGV[2] and r[3] == ARGV[i + 1] then
      redis.call('ZADD', KEYS[1], deadline, member)
    else
      lost[#lost + 1] = uuid
    end
  end
end
return { lost, cancelled }
`,
  1,
);

/** What {@linkcode encodeExtendLeases} takes. */
export interface ExtendLeasesInput {
  /** The worker holding the leases. */
  workerId: string;
  /** The leases to renew. */
  leases: readonly Lease[];
  /** The new lease duration, in ms. */
  leaseMs: number;
}

/**
 * KEYS and ARGV of a lease renewal.
 *
 * @param keys The app's keys.
 * @param input The worker, its leases and their duration.
 * @returns The call.
 */
export function encodeExtendLeases(keys: RedisKeys, input: ExtendLeasesInput): ScriptCall {
  const args = [keys.taskPrefix, input.workerId, String(input.leaseMs)];
  for (const lease of input.leases) args.push(lease.uuid, String(lease.deliveries));
  return { keys: [keys.leases], args };
}

/**
 * The leases lost and the cancels requested of held tasks.
 *
 * @param reply The script's reply.
 * @returns The renewal.
 * @throws {BackendError} When the reply does not have the documented shape.
 */
export function decodeExtendLeases(reply: RedisReply): LeaseRenewal {
  const [lost, flat] = replyArray("extend_leases", reply, 2);
  if (!Array.isArray(lost) || !Array.isArray(flat) || flat.length % 2 !== 0) {
    throw malformedReply("extend_leases", "{ lost, { uuid, reason, ... } }", reply);
  }
  const cancelled: LeaseRenewal["cancelled"] = [];
  for (let i = 0; i < flat.length; i += 2) {
    cancelled.push({ uuid: String(flat[i]), reason: String(flat[i + 1]) });
  }
  return { lost: lost as string[], cancelled };
}

import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import type { RedisKeys } from "../redis_keys.ts";
import { replyInteger } from "./_reply.ts";

/** Records, removes or checks the heartbeat of a GlobalConfig instance. */
export const heartbeatScript: RedisScript = new RedisScript(
  "heartbeat",
  `--[[ heartbeat: record, remove or check the liveness of an app's running instances.
KEYS[1] heartbeats  ZSET  score = expiry (ms, server time), member = instance id
KEYS[2] main        HASH  QTasks' status hash: name, status = "running" while any instance lives
ARGV[1] mode: "beat", "stop" or "check"
ARGV[2] instance id
ARGV[3] ttl ms
ARGV[4] app name
Returns the number of live instances (after the change). ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[1] == 'beat' then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  redis.call('HSET', KEYS[2], 'name', ARGV[4], 'status', 'running')
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
elseif ARGV[1] == 'stop' then
  redis.call('ZREM', KEYS[1], ARGV[2])
end
local live = redis.call('ZCARD', KEYS[1])
if live == 0 then redis.call('DEL', KEYS[2]) end
return live
`,
  2,
);

/** What {@linkcode encodeHeartbeat} takes. */
export interface HeartbeatInput {
  /** Record a beat, remove the instance, or only count. */
  mode: "beat" | "stop" | "check";
  /** This GlobalConfig instance. */
  instance: string;
  /** How long a beat lives, in ms. */
  ttlMs: number;
  /** The app name (stored in the main hash). */
  appName: string;
}

/**
 * KEYS and ARGV of a heartbeat.
 *
 * @param keys The app's keys.
 * @param input The mode and instance.
 * @returns The call.
 */
export function encodeHeartbeat(keys: RedisKeys, input: HeartbeatInput): ScriptCall {
  return {
    keys: [keys.heartbeats, keys.globalConfig("main")],
    args: [input.mode, input.instance, String(input.ttlMs), input.appName],
  };
}

/**
 * The number of live instances.
 *
 * @param reply The script's reply.
 * @returns The count.
 * @throws {BackendError} When the reply is not an integer.
 */
export function decodeHeartbeat(reply: RedisReply): number {
  return replyInteger("heartbeat", reply);
}

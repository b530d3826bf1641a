import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import type { RedisKeys } from "../redis_keys.ts";
import { replyInteger } from "./_reply.ts";

/** Claims a key once for a while; the winner may also store one GlobalConfig value. */
export const claimOnceScript: RedisScript = new RedisScript(
  "claim_once",
  `--[[ claim_once: the first caller claims a key until it expires; others are refused.
KEYS[1] claim   STRING  "1" while claimed (PX = ttl)
KEYS[2] group   HASH    a GlobalConfig group the winner writes one field of (unused when ARGV[2] is "")
ARGV[1] ttl ms
ARGV[2] field to set in KEYS[2] when claimed ("" for none)
ARGV[3] its value
Returns 1 when this call claimed the key, else 0. ]]
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', tonumber(ARGV[1])) then return 0 end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) end
return 1
`,
  2,
);

/** What {@linkcode encodeClaimOnce} takes. */
export interface ClaimOnceInput {
  /** The key to claim (under `{app}:claim:`). */
  key: string;
  /** How long the claim holds, in ms. */
  ttlMs: number;
  /** A GlobalConfig value the winner stores: group `name` (default `main`), field `key`. */
  record?: { name: string; key: string; value: string };
}

/**
 * KEYS and ARGV of a claim.
 *
 * @param keys The app's keys.
 * @param input The key, its ttl and the optional record.
 * @returns The call.
 */
export function encodeClaimOnce(keys: RedisKeys, input: ClaimOnceInput): ScriptCall {
  const { record } = input;
  return {
    keys: [keys.claim(input.key), keys.globalConfig(record?.name ?? "main")],
    args: [String(input.ttlMs), record?.key ?? "", record ? String(record.value) : ""],
  };
}

/**
 * Whether this call claimed the key.
 *
 * @param reply The script's reply.
 * @returns `true` when claimed.
 * @throws {BackendError} When the reply is not 0 or 1.
 */
export function decodeClaimOnce(reply: RedisReply): boolean {
  return replyInteger("claim_once", reply) === 1;
}

import { RedisScript } from "../redis_script.ts";

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

import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import type { RedisKeys } from "../redis_keys.ts";
import { replyInteger } from "./_reply.ts";

/** Appends a line to a running task's log, capped; only the owner's current delivery may. */
export const appendLogScript: RedisScript = new RedisScript(
  "append_log",
  `--[[ append_log: append a line to a running task's log (the record's field "logs": lines joined
by "\\n"), keeping at most ARGV[5] lines and ARGV[6] bytes: the oldest lines are dropped and
counted in "logs_dropped". Only the worker holding the task's current delivery may write.
KEYS[1] leases  ZSET  member = uuid .. "|" .. worker id .. "|" .. deliveries (the lease token)
KEYS[2] record  HASH  the task's record
ARGV[1] uuid
ARGV[2] worker id
ARGV[3] deliveries (the lease token)
ARGV[4] the line (JSON text, no newline)
ARGV[5] most lines kept
ARGV[6] most bytes kept
Returns 1 when stored, 0 when that worker no longer holds that delivery (nothing written). ]]
if not redis.call('ZSCORE', KEYS[1], ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[3]) then return 0 end
local r = redis.call('HMGET', KEYS[2], 'logs', 'logs_dropped')
local lines = {}
if r[1] and r[1] ~= '' then
  for line in string.gmatch(r[1], '[^\\n]+') do lines[#lines + 1] = line end
end
lines[#lines + 1] = ARGV[4]
local maxLines, maxBytes = tonumber(ARGV[5]), tonumber(ARGV[6])
local bytes = #lines - 1
for _, line in ipairs(lines) do bytes = bytes + #line end
local first, dropped = 1, tonumber(r[2]) or 0
while first < #lines and (#lines - first + 1 > maxLines or bytes > maxBytes) do
  bytes = bytes - #lines[first] - 1
  first = first + 1
  dropped = dropped + 1
end
if bytes > maxBytes then
  -- One line longer than the cap on its own: it is dropped too.
  dropped = dropped + 1
  first = first + 1
end
redis.call('HSET', KEYS[2], 'logs', table.concat(lines, '\\n', first, #lines),
  'logs_dropped', dropped)
return 1
`,
  2,
);

/** What {@linkcode encodeAppendLog} takes. */
export interface AppendLogInput {
  /** The worker that logs. */
  workerId: string;
  /** The running task. */
  uuid: string;
  /** Its delivery (the lease token). */
  deliveries: number;
  /** The line, as JSON text. */
  line: string;
  /** Most lines kept. */
  maxLines: number;
  /** Most bytes kept. */
  maxBytes: number;
}

/**
 * KEYS and ARGV of a log line.
 *
 * @param keys The app's keys.
 * @param input The task, its lease and the line.
 * @returns The call.
 */
export function encodeAppendLog(keys: RedisKeys, input: AppendLogInput): ScriptCall {
  return {
    keys: [keys.leases, keys.task(input.uuid)],
    args: [
      input.uuid,
      input.workerId,
      String(input.deliveries),
      input.line,
      String(input.maxLines),
      String(input.maxBytes),
    ],
  };
}

/**
 * Whether the line was stored.
 *
 * @param reply The script's reply.
 * @returns `true` when stored.
 * @throws {BackendError} When the reply is not 0 or 1.
 */
export function decodeAppendLog(reply: RedisReply): boolean {
  return replyInteger("append_log", reply) === 1;
}

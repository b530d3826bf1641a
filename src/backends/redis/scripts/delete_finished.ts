import { RedisScript } from "../redis_script.ts";

/** Deletes the given task records that are finished (never a queued or running one). */
export const deleteFinishedScript: RedisScript = new RedisScript(
  "delete_finished",
  `--[[ delete_finished: delete the task records among KEYS whose status is final.
KEYS[1..n] task records ("{app}:task:<uuid>", found by SCAN)
ARGV: none
Returns how many records were deleted; a "new" or "process" record is never touched. ]]
local deleted = 0
for _, key in ipairs(KEYS) do
  local status = redis.call('HGET', key, 'status')
  if status and status ~= 'new' and status ~= 'process' then
    deleted = deleted + redis.call('DEL', key)
  end
end
return deleted
`,
  -1,
);

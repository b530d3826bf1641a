import { RedisScript, type ScriptCall } from "../redis_script.ts";
import type { RedisReply } from "../redis_client.ts";
import type { RedisKeys } from "../redis_keys.ts";
import type { NewFlowRecord, NewTask } from "../../../model/messages.ts";
import { isReservedField } from "../../../model/task_codec.ts";
import { encodeHeaders } from "../../../model/task_headers.ts";
import { FLOW_TASK_NAMES } from "../../../model/_flow_record.ts";
import { replyStrings } from "./_reply.ts";
import { INDEX_LUA } from "./_index_lua.ts";
import { DEDUP_LUA } from "./_dedup_lua.ts";
import { DEFAULT_QUEUE } from "../../../model/queue_name.ts";
import { luaSet } from "../../../model/_attempt_fields.ts";
import { OPTIONAL_CLAIM_FIELDS, PLAIN_CLAIM_FIELD } from "./_claim_fields.ts";

/** Stores and queues (or schedules) many tasks in one atomic step. */
export const enqueueBulkScript: RedisScript = new RedisScript(
  "enqueue_bulk",
  `--[[ enqueue_bulk: store and queue many tasks, in one atomic step (all or none).
KEYS[1] queue     ZSET   score = priority, member = 15-digit seq .. ":" .. uuid
KEYS[2] marker    ZSET   wake-up marker for blocked workers
KEYS[3] seq       STRING sequence counter (FIFO order within a priority)
KEYS[4] scheduled ZSET   tasks not yet due: score = due time (ms, server time), member as in the queue
KEYS[5] queues    SET    the names of the named queues used (for the operator's listings)
KEYS[6] dedup     prefix of the deduplication keys ("{app}:dedup:", see _dedup_lua.ts)
ARGV[1] prefix of record keys ("{app}:task:")
ARGV[2] "1" to skip the uuids that exist already and report them, "0" to refuse the whole batch
ARGV[3] number of tasks T, followed by T tasks, each:
        uuid, priority, task name, args (JSON), kwargs (JSON), delay ms (0: due at once; -1: the
        record of a chain or group, stored with status "process" and never queued),
        n, n extra field/value pairs; a task of a named queue has "queue", its name as its
        first pair: it goes to KEYS[1] .. ":" .. name and wakes KEYS[2] .. ":" .. name (the
        default queue's task has no such pair and costs nothing more); a task with a deadline
        has "expires_at", its deadline in ms from now, next (after the queue's pair, if any):
        the record's expires_at becomes server time + that, in unix seconds; a task that carries
        headers has "headers" (JSON) among its pairs, a task of a flow "flow", a task
        that deduplicates "dedup_id", and a rate-limited task "rate_limit" as its last pair: its
        task name joins the SET "{app}:rate:names" (derived from ARGV[1], in the same slot), which
        tells the exchange's claim whose records to read the limit of (_rate_limit_lua.ts)
then, only when a task deduplicates: D and D entries (ARGV index of the task's uuid, id, time
        to live ms, mode), see _dedup_lua.ts: such a task joins the live task holding its id
        instead of being stored
A task due at once with none of the optional claim fields among its pairs (retry, attempt,
flow, queue, expires_at, run_at, conc_slot, conc_limit) gets ${PLAIN_CLAIM_FIELD} = "1": the
exchange's claim then reads only the fields every claim needs (_claim_fields.ts).
Each task enters the operator's indexes (_index_lua.ts). A delayed task's record gets run_at (unix seconds) and the task waits in the schedule; each
exchange moves the due ones into the queue. The marker is set when a task is due at once, or when
a delayed one is due before the earliest scheduled task, so that a blocked worker wakes and
shortens its wait.
Returns the uuids skipped because they exist (mode "1"), and for each deduplicated task a pair
{ uuid, joined uuid }; or a DUPLICATE_TASK error with nothing written (mode "0"). ]]
local prefix, skip = ARGV[1], ARGV[2] == '1'
-- The tasks to store, flat: ARGV index, n and record key of each (no table per task). Counts of
-- "0" need no tonumber (strtod): a task without pairs, a task due at once.
local tasks, skipped, i = {}, {}, 4
for _ = 1, tonumber(ARGV[3]) do
  local n = ARGV[i + 6] == '0' and 0 or tonumber(ARGV[i + 6])
  local key = prefix .. ARGV[i]
  if redis.call('EXISTS', key) == 1 then
    if not skip then
      return redis.error_reply('DUPLICATE_TASK task ' .. ARGV[i] .. ' exists already')
    end
    skipped[#skipped + 1] = ARGV[i]
  else
    local m = #tasks
    tasks[m + 1], tasks[m + 2], tasks[m + 3] = i, n, key
  end
  i = i + 7 + 2 * n
end
local stored = #tasks / 3
local t = redis.call('TIME')
-- The server time: "stamp" (unix seconds, 6 decimals) as text, "now" (ms) as a number.
local micros = string.format('%06d', tonumber(t[2]))
local stamp = t[1] .. '.' .. micros
local now = tonumber(t[1] .. string.sub(micros, 1, 3))
${INDEX_LUA}
-- Deduplication (its functions are created only by a call whose tasks carry it).
local dedups, joinDedup = nil, nil
if ARGV[i] then
${DEDUP_LUA}
  dedups, joinDedup = dedupRead(i), dedupJoin
end
-- One INCRBY reserves a sequence number for every task of the batch (INCR for one: no number
-- argument to format).
local first = 0
if stored == 1 then
  first = redis.call('INCR', KEYS[3]) - 1
elseif stored > 0 then
  first = redis.call('INCRBY', KEYS[3], stored) - stored
end
local wake, head = false, nil
-- The optional claim fields (a set), built for the first task with pairs.
local OPTIONAL_CLAIM = nil
-- Named queues woken (the default one is "wake").
local wakes = {}
-- The names of rate-limited tasks stored (their "rate_limit" is the last pair).
local rated = nil
-- repeat ... until true: a deduplicated task leaves the body with break (Lua 5.1 has no continue).
for k = 1, stored do repeat
  local j, n, key = tasks[3 * k - 2], tasks[3 * k - 1], tasks[3 * k]
  if dedups and dedups[j] and joinDedup(j, key, dedups[j]) then break end
  local named = n > 0 and ARGV[j + 7] == 'queue' and ARGV[j + 8] or nil
  if named then redis.call('SADD', KEYS[5], named) end
  local e = named and j + 9 or j + 7
  local expires = n > 0 and ARGV[e] == 'expires_at' and tonumber(ARGV[e + 1]) or nil
  local member = string.format('%015d', first + k) .. ':' .. ARGV[j]
  local delay = ARGV[j + 5] == '0' and 0 or tonumber(ARGV[j + 5]) or 0
  if n > 0 then
    redis.call('HSET', key, unpack(ARGV, j + 7, j + 6 + 2 * n))
    if ARGV[j + 5 + 2 * n] == 'rate_limit' then
      rated = rated or {}
      rated[ARGV[j + 2]] = true
    end
  end
  -- The ${PLAIN_CLAIM_FIELD} marker on a task due now with none of the optional claim fields
  -- (_claim_fields.ts): its claims read half the fields. Without it, the last pair repeats
  -- deliveries (one HSET either way).
  local plain = delay == 0
  if plain and n > 0 then
    OPTIONAL_CLAIM = OPTIONAL_CLAIM or ${luaSet(OPTIONAL_CLAIM_FIELDS)}
    for p = j + 7, j + 5 + 2 * n, 2 do
      if OPTIONAL_CLAIM[ARGV[p]] then
        plain = false
        break
      end
    end
  end
  local mark, value = 'deliveries', '0'
  if plain then mark, value = '${PLAIN_CLAIM_FIELD}', '1' end
  redis.call('HSET', key, 'task_name', ARGV[j + 2], 'args', ARGV[j + 3], 'kwargs', ARGV[j + 4],
    'status', delay < 0 and 'process' or 'new', 'priority', ARGV[j + 1], 'created_at', stamp,
    'updated_at', stamp, 'seq', first + k, 'deliveries', '0', mark, value)
  if expires then
    redis.call('HSET', key, 'expires_at', string.format('%.3f', (now + expires) / 1000))
  end
  idxMove(ARGV[j], ARGV[j + 2], first + k, nil,
    delay < 0 and 'process' or (delay > 0 and 'scheduled' or 'queued'))
  if delay < 0 then
    redis.call('HSET', key, 'started_at', stamp)
  elseif delay > 0 then
    local due = now + delay
    if head == nil then
      local h = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
      head = tonumber(h[2]) or math.huge
    end
    if due < head then
      head = due
      if named then wakes[named] = true else wake = true end
    end
    redis.call('HSET', key, 'run_at', string.format('%.3f', due / 1000))
    redis.call('ZADD', KEYS[4], due, member)
  elseif named then
    wakes[named] = true
    redis.call('ZADD', KEYS[1] .. ':' .. named, ARGV[j + 1], member)
  else
    wake = true
    redis.call('ZADD', KEYS[1], ARGV[j + 1], member)
  end
until true end
if rated then
  local names = {}
  for name in pairs(rated) do names[#names + 1] = name end
  redis.call('SADD', string.sub(prefix, 1, -6) .. 'rate:names', unpack(names))
end
if wake then redis.call('ZADD', KEYS[2], 0, '0') end
for name in pairs(wakes) do redis.call('ZADD', KEYS[2] .. ':' .. name, 0, '0') end
idxFlush()
return skipped
`,
  6,
);

/** What {@linkcode encodeEnqueueBulk} takes. */
export interface EnqueueBulkInput {
  /** The tasks to store and queue (or schedule). */
  tasks: readonly NewTask[];
  /** Skip (and report) tasks whose uuid exists, instead of refusing the batch. */
  skipExisting: boolean;
  /** Records of chains and groups, stored first and never queued. */
  records?: readonly NewFlowRecord[];
}

/**
 * KEYS and ARGV of an enqueue: ARGV is written straight from the tasks (no intermediate
 * objects per task).
 *
 * @param keys The app's keys.
 * @param input The tasks, the flow records and the duplicate mode.
 * @returns The call.
 */
export function encodeEnqueueBulk(keys: RedisKeys, input: EnqueueBulkInput): ScriptCall {
  const records = input.records ?? [];
  const args: string[] = [
    keys.taskPrefix,
    input.skipExisting ? "1" : "0",
    String(records.length + input.tasks.length),
  ];
  for (const record of records) appendFlowRecord(args, record);
  // The deduplication entries, after the tasks (see _dedup_lua.ts): none for most calls.
  let dedups: string[] | undefined;
  for (const task of input.tasks) {
    if (task.deduplication !== undefined) {
      const { id, ttlMs, mode } = task.deduplication;
      // The ARGV index (1-based) of the task's uuid, pushed next.
      (dedups ??= []).push(String(args.length + 1), id, String(Math.ceil(ttlMs)), mode);
    }
    appendTask(args, task);
  }
  if (dedups !== undefined) args.push(String(dedups.length / 4), ...dedups);
  return {
    keys: [keys.queue, keys.marker, keys.seq, keys.scheduled, keys.queueNames, keys.dedupPrefix],
    args,
  };
}

/** What an enqueue_bulk call replies, decoded. */
export interface EnqueueBulkReply {
  /** The uuids skipped because they exist. */
  skipped: string[];
  /** Deduplicated tasks: each one's uuid and the uuid of the task it joined (absent: none). */
  joined?: Map<string, string>;
}

/**
 * The enqueue's reply: the uuids skipped because they exist, and the deduplicated tasks with the
 * task each joined.
 *
 * @param reply The script's reply.
 * @returns The skipped uuids and the joins.
 * @throws {BackendError} When the reply is not a list of uuids and pairs of uuids.
 */
export function decodeEnqueueReply(reply: RedisReply): EnqueueBulkReply {
  if (!Array.isArray(reply)) return { skipped: replyStrings("enqueue_bulk", reply) };
  let skipped: string[] | undefined;
  let joined: Map<string, string> | undefined;
  for (let k = 0; k < reply.length; k++) {
    const item = reply[k];
    if (typeof item === "string") {
      if (skipped !== undefined) skipped.push(item);
      continue;
    }
    if (!Array.isArray(item) || typeof item[0] !== "string" || typeof item[1] !== "string") {
      return { skipped: replyStrings("enqueue_bulk", reply) };
    }
    // The first pair: the strings before it were skipped uuids.
    if (skipped === undefined) skipped = reply.slice(0, k) as string[];
    (joined ??= new Map()).set(item[0], item[1]);
  }
  return joined === undefined ? { skipped: reply as string[] } : { skipped: skipped!, joined };
}

/**
 * The uuids skipped because they exist (always empty when `skipExisting` was false: a duplicate
 * then fails the call with a `DUPLICATE_TASK` error reply).
 *
 * @param reply The script's reply.
 * @returns The skipped uuids.
 * @throws {BackendError} When the reply is not a list of uuids.
 */
export function decodeEnqueueBulk(reply: RedisReply): string[] {
  return decodeEnqueueReply(reply).skipped;
}

/**
 * Appends a task to the ARGV: its fields, then its extra fields (never reserved ones) and its
 * flow link as pairs.
 */
function appendTask(args: string[], task: NewTask): void {
  const delay = task.delayMs !== undefined && task.delayMs > 0
    ? String(Math.ceil(task.delayMs))
    : "0";
  args.push(task.uuid, String(task.priority), task.taskName, task.args, task.kwargs, delay, "");
  const count = args.length - 1;
  let pairs = 0;
  // A named queue's pair comes first: the script looks for it there only.
  if (task.queue !== undefined && task.queue !== DEFAULT_QUEUE) {
    args.push("queue", task.queue);
    pairs++;
  }
  // Then the deadline's (ms from now: the script turns it into server time).
  if (task.expiresInMs !== undefined && task.expiresInMs > 0) {
    args.push("expires_at", String(Math.ceil(task.expiresInMs)));
    pairs++;
  }
  for (const field in task.extra) {
    if (isReservedField(field)) continue;
    args.push(field, String(task.extra[field]));
    pairs++;
  }
  if (task.flow !== undefined) {
    args.push("flow", task.flow);
    pairs++;
  }
  const headers = encodeHeaders(task.headers);
  if (headers !== undefined) {
    args.push("headers", headers);
    pairs++;
  }
  // A concurrency limit: the claim counts the slot's running tasks (see _exchange.ts).
  if (task.concurrency !== undefined) {
    args.push("conc_slot", task.concurrency.slot, "conc_limit", String(task.concurrency.limit));
    pairs += 2;
  }
  // Deduplication: the record keeps its id (the entry after the tasks says the rest).
  if (task.deduplication !== undefined) {
    args.push("dedup_id", task.deduplication.id);
    pairs++;
  }
  // A rate limit, one field "<limit> <ms> <slot>", always the last pair (the script looks for it
  // there only): the claim counts the slot's starts in its window (see _rate_limit_lua.ts).
  if (task.rateLimit !== undefined) {
    const { slot, limit, durationMs } = task.rateLimit;
    args.push("rate_limit", `${limit} ${durationMs} ${slot}`);
    pairs++;
  }
  args[count] = String(pairs);
}

/** Appends the record of a chain or group: an entry with delay -1, stored and never queued. */
function appendFlowRecord(args: string[], record: NewFlowRecord): void {
  const pairs = ["flow_kind", record.kind, "flow_steps", JSON.stringify(record.steps)];
  if (record.current !== undefined) pairs.push("flow_current", record.current);
  args.push(
    record.uuid,
    "0",
    FLOW_TASK_NAMES[record.kind],
    "[]",
    "{}",
    "-1",
    String(pairs.length / 2),
    ...pairs,
  );
}

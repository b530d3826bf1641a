/**
 * Scenario 5: poison input mixed with normal tasks.
 *
 * Between two halves of a batch of normal tasks (which must all succeed), the queue gets:
 *   (a) a queue entry whose record does not exist (ZADD straight into `{app}:queue`);
 *   (b) a record whose args are malformed JSON, and (b2) one whose args are JSON but not an
 *       array (HSET like the enqueue script, then ZADD);
 *   (c) a task name no worker knows (`app.addTask("no_such_task")`);
 *   (d) arguments of the wrong type (the task checks `typeof` and throws a TypeError);
 *   (e) arguments over maxPayloadBytes (1024): rejected at enqueue, nothing stored (also with
 *       multi-byte characters, whose UTF-16 length is under the limit but not their bytes);
 *   (f) tasks that throw a non-Error: a string and a plain object;
 *   (g) a task that never settles, with maxTime.
 * Expected: (a) is dropped by a worker with a warning naming it, and leaves no record and no
 * queue entry; (b)–(d), (f), (g) end as status error with a clear error type; (e) rejects with
 * InvalidPayloadError before anything reaches Redis; the worker processes stay alive.
 *
 * @module
 */
import { InvalidPayloadError } from "../../../mod.ts";
import { sendAll, type TaskSpec } from "../producer.ts";
import { outcome, Rig } from "../rig.ts";
import { Checks, randomInt, type Scenario } from "../scenario.ts";
import { wrongResults } from "../tally.ts";

const MAX_PAYLOAD_BYTES = 1_024;
const HANG_MAX_TIME_MS = 300;

/** What a poison task must end as. */
interface Expected {
  label: string;
  type: string;
  message?: string;
}

export const poisonScenario: Scenario = {
  id: 5,
  name: "poison input",
  summary:
    "missing record, malformed args, unknown task, wrong types, oversize, throw non-Error, hang",
  async run(ctx) {
    const normal = ctx.short ? 60 : 300;
    const checks = new Checks();
    const rig = await Rig.start(ctx, {
      name: "poison",
      workers: {
        concurrency: 4,
        leaseMs: 2_000,
        idleWakeMs: 250,
        hangMaxTimeMs: HANG_MAX_TIME_MS,
      },
      producer: { maxPayloadBytes: MAX_PAYLOAD_BYTES },
    });
    const workers = await rig.pool.start(2);
    const redis = rig.inspect;
    const keys = rig.keys;

    // (e) Over the size limit: rejected before anything is sent (the seq counter, which every
    // enqueue increments, stays unset; no record, no queue).
    let oversizeRejected = 0;
    for (const [label, text] of [["ascii", "x".repeat(2_000)], ["utf-8", "€".repeat(400)]]) {
      try {
        await rig.app.addTask("work", [0, 1, text]);
        checks.expect(false, `(e) ${label}: an oversize payload was accepted`);
      } catch (error) {
        oversizeRejected++;
        checks.expect(
          error instanceof InvalidPayloadError && error.code === "INVALID_PAYLOAD",
          `(e) ${label}: rejected with ${(error as Error)?.name}, not InvalidPayloadError`,
        );
      }
    }
    const stored = [
      ...await redis.command(["KEYS", `${keys.taskPrefix}*`]) as string[],
      ...await redis.command(["KEYS", keys.seq]) as string[],
      ...await redis.command(["KEYS", keys.queue]) as string[],
    ];
    checks.expect(
      stored.length === 0,
      `(e) oversize enqueues stored something: ${stored.join(", ")}`,
    );

    // First half of the normal tasks.
    const half = Math.floor(normal / 2);
    const normalSpec = (i: number): TaskSpec => ["work", [i, randomInt(1, 10)]];
    const firstHalf = await sendAll(rig.app, Array.from({ length: half }, (_, i) => normalSpec(i)));

    // (a) A queue entry without a record, in the enqueue script's member format.
    const missing = crypto.randomUUID();
    const member = await queueMember(redis, keys.seq, missing);
    await redis.command(["ZADD", keys.queue, "0", member]);

    // (b) Records written directly, as the enqueue script does, with bad args.
    const expectations = new Map<string, Expected>();
    for (
      const [label, args] of [["(b) malformed JSON args", "[1, 2"], [
        "(b2) args not an array",
        '{"a":1}',
      ]]
    ) {
      const uuid = crypto.randomUUID();
      const stamp = (Date.now() / 1000).toFixed(6);
      const entry = await queueMember(redis, keys.seq, uuid);
      const seq = String(Number(entry.split(":")[0]));
      await redis.command([
        "HSET",
        keys.task(uuid),
        "task_name",
        "work",
        "args",
        args,
        "kwargs",
        "{}",
        "status",
        "new",
        "priority",
        "0",
        "created_at",
        stamp,
        "updated_at",
        stamp,
        "seq",
        seq,
        "deliveries",
        "0",
      ]);
      await redis.command(["ZADD", keys.queue, "0", entry]);
      expectations.set(uuid, { label, type: "InvalidPayloadError" });
    }
    await redis.command(["ZADD", keys.marker, "0", "0"]); // wake an idle worker, as enqueue does

    // (c), (d), (f), (g) through the API.
    const viaApi: Array<[TaskSpec, Expected]> = [
      [["no_such_task", []], { label: "(c) unknown task", type: "UnknownTaskError" }],
      [["typed", ["not a number"]], { label: "(d) wrong argument type", type: "TypeError" }],
      [["throw_value", ["string"]], {
        label: "(f) throw a string",
        type: "string",
        message: "boom",
      }],
      [["throw_value", ["object"]], {
        label: "(f) throw an object",
        type: "object",
        message: '{"code":1}',
      }],
      [["hang", []], { label: "(g) never settles, maxTime", type: "TaskTimeoutError" }],
    ];
    const apiUuids = await sendAll(rig.app, viaApi.map(([spec]) => spec));
    for (const [i, uuid] of apiUuids.entries()) expectations.set(uuid, viaApi[i][1]);

    // Second half of the normal tasks.
    const secondHalf = await sendAll(
      rig.app,
      Array.from({ length: normal - half }, (_, i) => normalSpec(half + i)),
    );
    const normalUuids = [...firstHalf, ...secondHalf];

    // (a) Some worker drops the entry and says so.
    const dropLine = new RegExp(`^LOG warn .*dropped 1 queue entries.*${missing}`);
    try {
      await Promise.any(workers.map((worker) => worker.process.waitForLine(dropLine, 30_000)));
    } catch {
      checks.expect(false, `(a) no worker logged dropping the queue entry of ${missing}`);
    }
    checks.expect(
      await redis.command(["ZSCORE", keys.queue, member]) === null,
      "(a) the entry without a record is still queued",
    );
    checks.expect(
      Number(await redis.command(["EXISTS", keys.task(missing)])) === 0,
      "(a) a record appeared for the entry that had none",
    );

    const { records, counts } = await rig.settle([...normalUuids, ...expectations.keys()], checks);
    for (const [uuid, want] of expectations) {
      const record = records.get(uuid);
      const ok = record?.status === "error" && record.error?.type === want.type &&
        (want.message === undefined || record.error?.message === want.message);
      checks.expect(
        ok,
        `${want.label}: ended as ${record?.status} ${record?.error?.type} ` +
          `"${record?.error?.message}", expected error ${want.type}`,
      );
    }
    const normalRecords = normalUuids.map((uuid) => records.get(uuid));
    const normalOk = normalRecords.filter((record) => record?.status === "success").length;
    checks.expect(normalOk === normal, `${normal - normalOk} normal tasks did not succeed`);
    const wrong = wrongResults(records, new Map(normalUuids.map((uuid, i) => [uuid, i])));
    checks.expect(wrong.length === 0, `${wrong.length} tasks stored a wrong result`);
    checks.expect(counts.failed === expectations.size, `${counts.failed} tasks failed`);
    checks.expect(counts.duplicated === 0, `${counts.duplicated} tasks ran twice`);
    for (const worker of workers) checks.expect(worker.alive, `worker ${worker.index} died`);
    checks.note(
      `${normal} normal tasks succeeded; (a) dropped with a warning, no record; ` +
        `(b)(b2) InvalidPayloadError; (c) UnknownTaskError; (d) TypeError; ` +
        `(e) 2 oversize rejected at enqueue (InvalidPayloadError), nothing stored; ` +
        `(f) "string"/"object"; (g) TaskTimeoutError after ${HANG_MAX_TIME_MS} ms; ` +
        `sent counts the 2 records written directly`,
    );
    await rig.stopWorkers(checks);
    return outcome(counts, checks, oversizeRejected);
  },
};

/** A queue member as the enqueue script makes it: a fresh 15-digit seq, ":", the uuid. */
async function queueMember(
  redis: { command(args: string[]): Promise<unknown> },
  seqKey: string,
  uuid: string,
): Promise<string> {
  const seq = Number(await redis.command(["INCR", seqKey]));
  return `${String(seq).padStart(15, "0")}:${uuid}`;
}

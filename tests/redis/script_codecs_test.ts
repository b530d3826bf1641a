/**
 * The Redis script modules (src/backends/redis/scripts/_*.ts): each one's `encode…` builds the
 * KEYS and ARGV its Lua header documents, and its `decode…` reads the reply into typed results.
 * Round trips against the real Redis for the enqueue and exchange path, and malformed replies,
 * which fail with a BackendError naming the script. Needs Redis at redis://127.0.0.1:6379, or at
 * QTASKS_TEST_REDIS_URL.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { BackendError } from "../../mod.ts";
import { RedisConnection } from "../../src/backends/redis/mod.ts";
import type { ExchangeRequest, NewTask } from "../../src/ports/mod.ts";
import { redisKeys } from "../../src/backends/redis/redis_keys.ts";
import {
  decodeEnqueueBulk,
  decodeEnqueueReply,
  encodeEnqueueBulk,
  enqueueBulkScript,
} from "../../src/backends/redis/scripts/_enqueue_bulk.ts";
import {
  decodeExchange,
  encodeExchange,
  exchangeScript,
} from "../../src/backends/redis/scripts/_exchange.ts";
import {
  decodeExtendLeases,
  encodeExtendLeases,
  extendLeasesScript,
} from "../../src/backends/redis/scripts/_extend_leases.ts";
import {
  decodeQueueStats,
  encodeQueueStats,
  queueStatsScript,
} from "../../src/backends/redis/scripts/_queue_stats.ts";
import {
  cancelScript,
  decodeCancel,
  encodeCancel,
} from "../../src/backends/redis/scripts/_cancel.ts";
import { decodeReadWorkerStats } from "../../src/backends/redis/scripts/_read_worker_stats.ts";
import { decodeReadThroughput } from "../../src/backends/redis/scripts/_read_throughput.ts";
import { decodeHeartbeat } from "../../src/backends/redis/scripts/_heartbeat.ts";
import type { ScriptCall } from "../../src/backends/redis/redis_script.ts";
import type { RedisScript } from "../../src/backends/redis/redis_script.ts";
import { testRedisUrl, uniqueName } from "../support/deferred.ts";

function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return {
    uuid: crypto.randomUUID(),
    taskName: "add",
    priority: 0,
    args: "[1,2]",
    kwargs: "{}",
    extra: {},
    ...overrides,
  };
}

function request(overrides: Partial<ExchangeRequest> = {}): ExchangeRequest {
  return {
    workerId: "worker-a",
    settlements: [],
    want: 10,
    leaseMs: 30_000,
    resultTtlMs: 60_000,
    maxDeliveries: 3,
    recoverLimit: 100,
    ...overrides,
  };
}

/** Runs `body` with a connection and the keys of a fresh app, deleting the app's keys after. */
async function withRedis(
  body: (
    run: (script: RedisScript, call: ScriptCall) => ReturnType<RedisConnection["command"]>,
    keys: ReturnType<typeof redisKeys>,
    command: RedisConnection["command"],
  ) => Promise<void>,
): Promise<void> {
  const name = uniqueName("codecs");
  const keys = redisKeys(name);
  const connection = new RedisConnection({ url: testRedisUrl() });
  connection.acquire();
  try {
    await body(
      (script, call) => connection.script(script, call.keys, call.args),
      keys,
      (args) => connection.command(args),
    );
  } finally {
    let cursor = "0";
    do {
      const reply = await connection.command(["SCAN", cursor, "MATCH", `{${name}}:*`]) as [
        string,
        string[],
      ];
      cursor = reply[0];
      if (reply[1].length > 0) await connection.command(["DEL", ...reply[1]]);
    } while (cursor !== "0");
    await connection.release();
  }
}

test("enqueue_bulk sends deduplication entries after the tasks only when a task has one, and reports the joins", () =>
  withRedis(async (run, keys) => {
    const plain = newTask();
    const plainCall = encodeEnqueueBulk(keys, { tasks: [plain], skipExisting: true });
    // A call without deduplication ends with its last task (no section, no count).
    assert.equal(plainCall.args.length, 3 + 7);
    const dedup = { id: "d-1", ttlMs: 60_000, mode: "throttle" as const };
    const first = newTask({ deduplication: dedup });
    const second = newTask({ deduplication: dedup });
    const call = encodeEnqueueBulk(keys, { tasks: [plain, first, second], skipExisting: true });
    const section = call.args.slice(-9);
    assert.equal(section[0], "2");
    // Each entry: the ARGV index (1-based) of its task's uuid, id, ttl, mode.
    assert.equal(call.args[Number(section[1]) - 1], first.uuid);
    assert.deepEqual(section.slice(2, 4), ["d-1", "60000"]);
    assert.equal(call.args[Number(section[5]) - 1], second.uuid);
    const reply = decodeEnqueueReply(await run(enqueueBulkScript, call));
    assert.deepEqual(reply.skipped, []);
    assert.deepEqual([...reply.joined ?? []], [[second.uuid, first.uuid]]);
    assert.deepEqual(
      decodeEnqueueBulk(await run(enqueueBulkScript, call)).sort(),
      [
        plain.uuid,
        first.uuid,
      ].sort(),
    );
  }));

test("enqueue_bulk and exchange round trip: the tasks written are the tasks claimed", () =>
  withRedis(async (run, keys) => {
    const first = newTask({ priority: 5, extra: { trace: "t-1", status: "forged" } });
    const second = newTask({ taskName: "mul", args: "[3]", kwargs: '{"k":1}' });
    const call = encodeEnqueueBulk(keys, { tasks: [first, second], skipExisting: true });
    assert.deepEqual(call.keys, [
      keys.queue,
      keys.marker,
      keys.seq,
      keys.scheduled,
      keys.queueNames,
      keys.dedupPrefix,
    ]);
    // A reserved field (status) is never written from `extra`.
    assert.ok(!call.args.includes("forged"));
    assert.deepEqual(decodeEnqueueBulk(await run(enqueueBulkScript, call)), []);
    // Sent again with skipExisting, both are reported as skipped.
    const skipped = decodeEnqueueBulk(await run(enqueueBulkScript, call));
    assert.deepEqual(skipped.sort(), [first.uuid, second.uuid].sort());

    const stats = decodeQueueStats(await run(queueStatsScript, encodeQueueStats(keys, 100)));
    assert.deepEqual(stats, {
      queued: 2,
      byPriority: [{ priority: 0, count: 1 }, { priority: 5, count: 1 }],
      quarantined: 0,
      scheduled: 0,
      inFlight: 0,
    });

    const flowTasks = new Set<string>();
    const claim = decodeExchange(
      await run(exchangeScript, encodeExchange(keys, request(), flowTasks)),
    );
    for (const task of claim.claimed) {
      assert.ok(typeof task.waitedMs === "number" && task.waitedMs >= 0, "the wait is measured");
      delete task.waitedMs;
    }
    assert.deepEqual(claim.claimed, [
      {
        uuid: second.uuid,
        taskName: "mul",
        args: "[3]",
        kwargs: '{"k":1}',
        priority: 0,
        deliveries: 1,
        isolated: false,
      },
      {
        uuid: first.uuid,
        taskName: "add",
        args: "[1,2]",
        kwargs: "{}",
        priority: 5,
        deliveries: 1,
        isolated: false,
      },
    ]);
    assert.deepEqual([claim.rejected, claim.recovered, claim.dropped, claim.quarantined], [
      [],
      0,
      [],
      0,
    ]);
    assert.equal(claim.nextDueMs, undefined);

    const renewal = decodeExtendLeases(
      await run(
        extendLeasesScript,
        encodeExtendLeases(keys, {
          workerId: "worker-a",
          leases: [{ uuid: first.uuid, deliveries: 1 }, { uuid: "gone", deliveries: 1 }],
          leaseMs: 30_000,
        }),
      ),
    );
    assert.deepEqual(renewal, { lost: ["gone"], cancelled: [] });

    assert.equal(
      decodeCancel(
        await run(
          cancelScript,
          encodeCancel(keys, { uuid: first.uuid, reason: "stop", resultTtlMs: 60_000 }),
        ),
      ),
      "cancelling",
    );

    // Settling both: one success, one error; a settlement from another delivery is rejected.
    const settled = decodeExchange(
      await run(
        exchangeScript,
        encodeExchange(
          keys,
          request({
            want: 0,
            settlements: [
              { uuid: second.uuid, deliveries: 1, status: "success", returning: "3" },
              {
                uuid: first.uuid,
                deliveries: 1,
                status: "error",
                error: { type: "RangeError", message: "bad", code: "E_BAD" },
              },
              { uuid: "stranger", deliveries: 1, status: "success", returning: "0" },
            ],
          }),
          flowTasks,
        ),
      ),
    );
    assert.deepEqual(settled.claimed, []);
    assert.deepEqual(settled.rejected, ["stranger"]);
  }));

test("a claim counts the delivery on the record, the reply and the lease token, at any count", () =>
  withRedis(async (run, keys, command) => {
    const fresh = newTask({ priority: 0 });
    const redelivered = newTask({ priority: 1 });
    await run(
      enqueueBulkScript,
      encodeEnqueueBulk(keys, { tasks: [fresh, redelivered], skipExisting: false }),
    );
    // Past the script's table of small counts (0 to 4): counted the slow way, the same.
    await command(["HSET", keys.taskPrefix + redelivered.uuid, "deliveries", "11"]);
    const claimed = decodeExchange(
      await run(exchangeScript, encodeExchange(keys, request({ maxDeliveries: 20 }), new Set())),
    ).claimed;
    assert.deepEqual(claimed.map((t) => [t.uuid, t.deliveries]), [
      [fresh.uuid, 1],
      [redelivered.uuid, 12],
    ]);
    for (const task of [[fresh.uuid, "1"], [redelivered.uuid, "12"]]) {
      assert.equal(await command(["HGET", keys.taskPrefix + task[0], "deliveries"]), task[1]);
    }
    const leases = await command(["ZRANGE", keys.leases, "0", "-1"]) as string[];
    assert.deepEqual(
      leases.sort(),
      [
        `${fresh.uuid}|worker-a|1`,
        `${redelivered.uuid}|worker-a|12`,
      ].sort(),
    );
  }));

test("a claim's waitedMs counts from the record's created_at, or from its run_at when later", () =>
  withRedis(async (run, keys, command) => {
    const queued = newTask({ priority: 0 });
    const delayed = newTask({ priority: 1, delayMs: 3_600_000 });
    await run(
      enqueueBulkScript,
      encodeEnqueueBulk(keys, { tasks: [queued, delayed], skipExisting: false }),
    );
    const [seconds] = await command(["TIME"]) as [string, string];
    const ago = (s: number) => `${Number(seconds) - s}.250000`;
    // Stored 100 s ago; the delayed one was due 2 s ago (its schedule entry is made due now).
    await command(["HSET", keys.taskPrefix + queued.uuid, "created_at", ago(100)]);
    await command([
      "HSET",
      keys.taskPrefix + delayed.uuid,
      "created_at",
      ago(100),
      "run_at",
      ago(2),
    ]);
    const [member] = await command(["ZRANGE", keys.scheduled, "0", "0"]) as string[];
    await command(["ZADD", keys.scheduled, "0", member]);
    const claimed = decodeExchange(
      await run(exchangeScript, encodeExchange(keys, request(), new Set())),
    ).claimed;
    const waited = new Map(claimed.map((task) => [task.uuid, task.waitedMs ?? -1]));
    const fromCreated = waited.get(queued.uuid)!;
    const fromRunAt = waited.get(delayed.uuid)!;
    assert.ok(fromCreated >= 99_000 && fromCreated < 1_000_000, `${fromCreated}`);
    assert.ok(fromRunAt >= 1_000 && fromRunAt < 99_000, `${fromRunAt}`);
    assert.ok(Number.isInteger(fromCreated) && Number.isInteger(fromRunAt));
  }));

test("enqueue_bulk marks a record plain_claim only when it has none of the optional claim fields", () =>
  withRedis(async (run, keys, command) => {
    const tasks = {
      plain: newTask(),
      extra: newTask({ extra: { tenant: "t-1" } }),
      headers: newTask({ headers: { traceparent: "00-1-2-01" } }),
      delayed: newTask({ delayMs: 60_000 }),
      queued: newTask({ queue: "mail" }),
      deadline: newTask({ expiresInMs: 60_000 }),
      limited: newTask({ concurrency: { slot: "add", limit: 2 } }),
      flow: newTask({ flow: JSON.stringify({ chain: crypto.randomUUID(), next: [] }) }),
    };
    await run(
      enqueueBulkScript,
      encodeEnqueueBulk(keys, { tasks: Object.values(tasks), skipExisting: false }),
    );
    const marked: Record<string, unknown> = {};
    for (const [label, task] of Object.entries(tasks)) {
      marked[label] = await command(["HGET", keys.taskPrefix + task.uuid, "plain_claim"]);
    }
    assert.deepEqual(marked, {
      plain: "1",
      extra: "1",
      headers: "1",
      delayed: null,
      queued: null,
      deadline: null,
      limited: null,
      flow: null,
    });
  }));

test("a claim reads the optional fields of a record without the plain_claim marker (one written before it)", () =>
  withRedis(async (run, keys, command) => {
    const late = newTask();
    const retried = newTask({ priority: 1 });
    await run(
      enqueueBulkScript,
      encodeEnqueueBulk(keys, { tasks: [late, retried], skipExisting: false }),
    );
    // As an older version wrote them: no marker, a deadline passed, a retry's fields.
    await command(["HDEL", keys.taskPrefix + late.uuid, "plain_claim"]);
    await command(["HSET", keys.taskPrefix + late.uuid, "expires_at", "1000.000"]);
    await command(["HDEL", keys.taskPrefix + retried.uuid, "plain_claim"]);
    await command(["HSET", keys.taskPrefix + retried.uuid, "retry", "2", "attempt", "3"]);
    const claimed = decodeExchange(
      await run(exchangeScript, encodeExchange(keys, request(), new Set())),
    ).claimed;
    assert.deepEqual(
      claimed.map((task) => [task.uuid, task.retriesLeft, task.attempt]),
      [[retried.uuid, 2, 3]],
    );
    assert.equal(await command(["HGET", keys.taskPrefix + late.uuid, "status"]), "cancel");
  }));

test("an exchange that finds nothing replies its empty lists as nil, decoded as empty lists", () =>
  withRedis(async (run, keys) => {
    const reply = await run(exchangeScript, encodeExchange(keys, request(), new Set()));
    assert.ok(Array.isArray(reply));
    // claimed, rejected and dropped: a nil each (cheaper for Redis to send than an empty table).
    assert.deepEqual([reply[0], reply[1], reply[3]], [null, null, null]);
    const result = decodeExchange(reply);
    assert.deepEqual([result.claimed, result.rejected, result.dropped], [[], [], []]);
  }));

test("a settlement moves its task into the status index whether or not it carries the task name and seq", () =>
  withRedis(async (run, keys, command) => {
    const named = newTask();
    const unnamed = newTask();
    await run(
      enqueueBulkScript,
      encodeEnqueueBulk(keys, { tasks: [named, unnamed], skipExisting: true }),
    );
    const index = new Map<string, { taskName: string; seq: string }>();
    decodeExchange(
      await run(exchangeScript, encodeExchange(keys, request(), new Set())),
      (uuid, taskName, seq) => index.set(uuid, { taskName, seq }),
    );
    // Only the first settlement carries its record's name and seq: the second one is read (and
    // needs the index functions an exchange builds at first use).
    index.delete(unnamed.uuid);
    await run(
      exchangeScript,
      encodeExchange(
        keys,
        request({
          want: 0,
          settlements: [
            { uuid: named.uuid, deliveries: 1, status: "success", returning: "1" },
            { uuid: unnamed.uuid, deliveries: 1, status: "success", returning: "2" },
          ],
        }),
        new Set(),
        index,
      ),
    );
    const success = await command([
      "ZRANGE",
      `${keys.taskPrefix.slice(0, -"task:".length)}i:success:add`,
      "0",
      "-1",
    ]) as string[];
    assert.deepEqual(success.sort(), [named.uuid, unnamed.uuid].sort());
    assert.equal(await command(["HGET", keys.taskPrefix + unnamed.uuid, "status"]), "success");
  }));

test("encodeExchange writes each settlement as the exchange header documents", () => {
  const keys = redisKeys("codecs");
  const { keys: sent, args } = encodeExchange(
    keys,
    request({
      idle: true,
      settlements: [
        { uuid: "a", deliveries: 1, status: "success", returning: "1" },
        { uuid: "b", deliveries: 2, status: "cancel", reason: "no" },
        { uuid: "c", deliveries: 1, status: "release" },
        {
          uuid: "d",
          deliveries: 1,
          status: "retry",
          error: { type: "Error", message: "m" },
          childUuid: "d2",
          delayMs: 10.2,
          retriesLeft: 2,
        },
      ],
    }),
    new Set(["b"]),
    new Map([["a", { taskName: "charge", seq: "000000000000042" }]]),
  );
  assert.deepEqual(sent, [
    keys.queue,
    keys.leases,
    keys.marker,
    keys.quarantine,
    keys.scheduled,
    keys.seq,
  ]);
  assert.deepEqual(args, [
    keys.taskPrefix,
    "worker-a",
    "30000",
    "10",
    "60000",
    "3",
    "100",
    keys.events,
    "1",
    "4",
    ...["a", "1", "success", "", "charge", "000000000000042", "1"],
    ...["b", "2", "cancel", "1", "", "", "1", "cancel_reason", "no"],
    ...["c", "1", "release", "", "", "", "0"],
    ...["d", "1", "retry", "", "", "", "3", "error_type", "Error", "error_message", "m"],
    ...["traceback", "Error: m", "d2", "11", "2"],
  ]);
});

test("a reply of the wrong shape fails with a BackendError that names the script", () => {
  const cases: Array<[string, () => unknown]> = [
    ["exchange", () => decodeExchange("OK")],
    ["exchange", () => decodeExchange([["a", "b", "c"], [], 0, [], 0, -1])],
    ["enqueue_bulk", () => decodeEnqueueBulk([1, 2])],
    ["extend_leases", () => decodeExtendLeases([[], ["only-a-uuid"]])],
    ["queue_stats", () => decodeQueueStats([[0, 1], 0, 0])],
    ["cancel", () => decodeCancel("perhaps")],
    ["read_worker_stats", () => decodeReadWorkerStats(null)],
    ["read_throughput", () => decodeReadThroughput([1, [60_000, 1]])],
    ["heartbeat", () => decodeHeartbeat("many")],
  ];
  for (const [script, decode] of cases) {
    assert.throws(decode, (error: unknown) => {
      assert.ok(error instanceof BackendError, script);
      assert.match(
        error.message,
        new RegExp(`^Cannot decode the reply of Redis script "${script}": expected .+, got `),
      );
      return true;
    });
  }
});

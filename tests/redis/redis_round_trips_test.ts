import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { QueueTasks } from "../../mod.ts";
import { enqueueBulkScript } from "../../src/backends/redis/scripts/_enqueue_bulk.ts";
import { exchangeScript } from "../../src/backends/redis/scripts/_exchange.ts";
import { readRecordsScript } from "../../src/backends/redis/scripts/_read_records.ts";
import { deferred, testRedisUrl, uniqueName } from "../support/deferred.ts";

/**
 * Every command clients sent about app `app` (MONITOR), and with `insideScripts` those run inside
 * Lua scripts too.
 */
async function monitor(app: string, { insideScripts = false } = {}) {
  const client = createClient({ url: testRedisUrl(), RESP: 2 });
  client.on("error", () => {});
  await client.connect();
  const lines: string[] = [];
  const markers = new Map<string, () => void>();
  const waiters = new Set<() => void>();
  await client.monitor((line: string) => {
    for (const [tag, seen] of markers) if (line.includes(tag)) seen();
    if ((insideScripts || !line.includes(" lua] ")) && line.includes(`{${app}}`)) {
      lines.push(line);
      for (const check of [...waiters]) check();
    }
  });
  /** Resolves once `count` lines so far match `pattern`. */
  const seen = (pattern: RegExp, count: number): Promise<void> =>
    new Promise((resolve) => {
      const check = () => {
        if (countMatching(lines, pattern) < count) return;
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });
  /** Resolves with the lines so far, once a marker command sent now has come through. */
  const flush = async (): Promise<string[]> => {
    const tag = `qtasks-monitor-${crypto.randomUUID()}`;
    const seen = new Promise<void>((resolve) => markers.set(tag, resolve));
    const probe = createClient({ url: testRedisUrl(), RESP: 2 });
    probe.on("error", () => {});
    await probe.connect();
    await probe.sendCommand(["ECHO", tag]);
    await seen;
    markers.delete(tag);
    await probe.close();
    return lines.splice(0);
  };
  return { flush, seen, close: () => client.destroy() };
}

function countMatching(lines: string[], pattern: RegExp): number {
  return lines.filter((l) => pattern.test(l)).length;
}

/** A producer app and a worker app (concurrency `concurrency`) of one new name, with task "echo". */
function producerAndWorker(prefix: string, concurrency: number) {
  const name = uniqueName(prefix);
  const url = testRedisUrl();
  const config = { logsDefaultLevel: "silent" as const, maxTasksProcess: concurrency };
  const producer = new QueueTasks({ name, brokerUrl: url, env: false, config });
  const worker = new QueueTasks({ name, brokerUrl: url, env: false, config });
  const echo = producer.task("echo", (n: number) => n);
  worker.task("echo", (n: number) => n);
  return { name, producer, worker, echo };
}

test("Redis costs at most one round trip per enqueue and at most two per processed task", async () => {
  const { name, producer, worker, echo } = producerAndWorker("roundtrips", 50);
  const bulkSha = await enqueueBulkScript.sha();
  const exchangeSha = await exchangeScript.sha();
  const readsSha = await readRecordsScript.sha();
  const n = 2_000;
  try {
    // Warm up: connections opened and scripts loaded before counting.
    await producer.ping({ server: false });
    await worker.start();
    await (await echo.addTask(0)).value({ timeoutMs: 10_000 });

    const watch = await monitor(name);
    const jobs = await Promise.all(Array.from({ length: n }, (_, i) => echo.addTask(i)));
    const afterEnqueue = await watch.flush();
    // Enqueues issued in one turn are gathered into bulk calls: at most one call per enqueue.
    const enqueues = countMatching(
      afterEnqueue,
      new RegExp(`"evalsha" "${bulkSha}"`, "i"),
    );
    assert.ok(enqueues >= 1 && enqueues <= n, `at most one call per enqueue, got ${enqueues}`);

    // Wait for the last task through the events channel, then count what the worker sent.
    await Promise.all(jobs.map((job) => job.result({ timeoutMs: 30_000 })));
    const all = afterEnqueue.concat(await watch.flush());
    watch.close();
    const exchanges = countMatching(all, new RegExp(`"evalsha" "${exchangeSha}"`, "i"));
    const blocking = countMatching(all, /"bzpopmin"/i);
    // Result waiters read with HGETALL, or several at once with the read_records script.
    const reads = countMatching(all, /"hgetall"/i) +
      countMatching(all, new RegExp(`"evalsha" "${readsSha}"`, "i"));
    const other = all.length - enqueues - exchanges - blocking - reads;
    const perTask = (exchanges + blocking) / n;
    console.log(
      `round trips: ${enqueues} calls for ${n} enqueues (${
        (enqueues / n).toFixed(3)
      } per enqueue); worker ${exchanges} exchanges + ${blocking} BZPOPMIN for ${n} tasks = ${
        perTask.toFixed(3)
      } per processed task; ${reads} reads by ${n} result waiters`,
    );
    assert.ok(exchanges > 0, "the worker exchanged with Redis");
    assert.ok(other <= 5, `only heartbeats and lease renewals besides, got ${other}`);
    assert.ok(perTask <= 2, `at most 2 round trips per processed task, got ${perTask}`);
  } finally {
    await worker.stop();
    await producer.flushAll();
    await producer.stop();
  }
});

test("a lone task reaching an idle Redis worker costs it three round trips: wake-up, claim, settle", async () => {
  const { name, producer, worker, echo } = producerAndWorker("roundtrips-idle", 10);
  const exchangeSha = await exchangeScript.sha();
  const n = 50;
  try {
    await worker.start();
    await (await echo.addTask(0)).value({ timeoutMs: 10_000 });
    const watch = await monitor(name);
    for (let i = 1; i <= n; i++) {
      assert.equal(await (await echo.addTask(i)).value({ timeoutMs: 10_000 }), i);
    }
    const all = await watch.flush();
    watch.close();
    const exchanges = countMatching(all, new RegExp(`"evalsha" "${exchangeSha}"`, "i"));
    const blocking = countMatching(all, /"bzpopmin"/i);
    const perTask = (exchanges + blocking) / n;
    console.log(
      `round trips, one task at a time: ${exchanges} exchanges + ${blocking} BZPOPMIN for ${n} tasks = ${
        perTask.toFixed(2)
      } per task`,
    );
    // Three, plus the odd extra exchange when a wake-up and a settle overlap (two may be in flight).
    assert.ok(perTask <= 3.1, `about 3 round trips per lone task, got ${perTask}`);
  } finally {
    await worker.stop();
    await producer.flushAll();
    await producer.stop();
  }
});

test("the exchange publishes no events while nobody waits, and a waiter reads the final record after the event", async () => {
  const { name, producer, worker, echo } = producerAndWorker("roundtrips-quiet", 10);
  const gate = deferred();
  const gated = producer.task("gated", (n: number) => n);
  worker.task("gated", async (n: number) => {
    await gate.promise;
    return n;
  });
  const n = 20;
  const events = new RegExp(`"publish" "\\{${name}\\}:events"`, "i");
  try {
    await worker.start();
    const watch = await monitor(name, { insideScripts: true });
    // Nobody has waited for a result yet, so nobody listens on the events channel.
    const jobs = await echo.addTasks(Array.from({ length: n }, (_, i) => [i] as [number]));
    await watch.seen(/lua\] "pexpire" ".*:task:/i, n); // each finished record gets its TTL
    assert.equal(countMatching(await watch.flush(), events), 0, "no event published");
    const records = await Promise.all(jobs.map((job) => job.get()));
    assert.deepEqual(records.map((r) => r?.returning), Array.from({ length: n }, (_, i) => i));
    await watch.flush();

    // A waiter subscribes, then reads; once it has read, the task finishes: the event wakes it,
    // and it reads the record again (the message's fields are not trusted: anyone allowed to
    // PUBLISH could forge them), so two HGETALL in all.
    const job = await gated.addTask(99);
    const result = job.result({ timeoutMs: 10_000 });
    await watch.seen(/"hgetall"/i, 1);
    gate.resolve();
    const record = await result;
    assert.equal(record.returning, 99);
    const lines = await watch.flush();
    watch.close();
    assert.ok(countMatching(lines, events) >= 1, "events published while a waiter listens");
    assert.equal(countMatching(lines, /"hgetall"/i), 2);
  } finally {
    gate.resolve();
    await worker.stop();
    await producer.flushAll();
    await producer.stop();
  }
});

test("result waiters woken in the same turn read their records in one call, not one HGETALL each", async () => {
  const { name, producer, worker } = producerAndWorker("roundtrips-reads", 50);
  const gate = deferred();
  const gated = producer.task("gated", (n: number) => n);
  worker.task("gated", async (n: number) => {
    await gate.promise;
    return n;
  });
  const readsSha = await readRecordsScript.sha();
  const n = 50;
  try {
    await worker.start();
    const watch = await monitor(name);
    const jobs = await gated.addTasks(Array.from({ length: n }, (_, i) => [i] as [number]));
    // Every waiter starts in this turn: their first reads go out together.
    const results = Promise.all(jobs.map((job) => job.result({ timeoutMs: 10_000 })));
    const batched = new RegExp(`"evalsha" "${readsSha}"`, "i");
    await watch.seen(batched, 1);
    gate.resolve();
    const records = await results;
    assert.deepEqual(records.map((r) => r.returning), Array.from({ length: n }, (_, i) => i));
    const lines = await watch.flush();
    watch.close();
    const calls = countMatching(lines, batched) + countMatching(lines, /"hgetall"/i);
    console.log(`reads of ${n} result waiters: ${calls} calls`);
    assert.ok(calls < n, `fewer read calls than waiters, got ${calls} for ${n}`);
  } finally {
    gate.resolve();
    await worker.stop();
    await producer.flushAll();
    await producer.stop();
  }
});

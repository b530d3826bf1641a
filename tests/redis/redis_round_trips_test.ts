import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { QueueTasks } from "../../mod.ts";
import { enqueueScript } from "../../src/redis/scripts/enqueue.ts";
import { exchangeScript } from "../../src/redis/scripts/exchange.ts";
import { testRedisUrl, uniqueName } from "../support/deferred.ts";

/** Every command clients sent (MONITOR, without the commands run inside Lua scripts). */
async function monitor(app: string) {
  const client = createClient({ url: testRedisUrl(), RESP: 2 });
  client.on("error", () => {});
  await client.connect();
  const lines: string[] = [];
  await client.monitor((line: string) => {
    if (
      !line.includes(" lua] ") && (line.includes(`{${app}}`) || line.includes("qtasks-monitor-"))
    ) {
      lines.push(line);
    }
  });
  // A marker command so the test knows every earlier line has arrived.
  const flush = async (): Promise<string[]> => {
    const probe = createClient({ url: testRedisUrl(), RESP: 2 });
    probe.on("error", () => {});
    await probe.connect();
    const tag = `qtasks-monitor-${crypto.randomUUID()}`;
    const seen = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (lines.some((l) => l.includes(tag))) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    await probe.sendCommand(["ECHO", tag]);
    await seen;
    await probe.close();
    return lines.filter((l) => !l.includes(tag));
  };
  return { lines, flush, close: () => client.destroy() };
}

function countMatching(lines: string[], pattern: RegExp): number {
  return lines.filter((l) => pattern.test(l)).length;
}

test("Redis costs one round trip per enqueue and at most two per processed task", async () => {
  const name = uniqueName("roundtrips");
  const url = testRedisUrl();
  const config = { logsDefaultLevel: "silent" as const, maxTasksProcess: 50 };
  const producer = new QueueTasks({ name, brokerUrl: url, env: false, config });
  const worker = new QueueTasks({ name, brokerUrl: url, env: false, config });
  const echo = producer.task("echo", (n: number) => n);
  worker.task("echo", (n: number) => n);
  const enqueueSha = await enqueueScript.sha();
  const exchangeSha = await exchangeScript.sha();
  const n = 2_000;
  try {
    // Warm up: connections opened and scripts loaded before counting.
    await producer.ping({ server: false });
    await worker.start();
    await (await echo.addTask(0)).value({ timeoutMs: 10_000 });

    const watch = await monitor(name);
    const jobs = await Promise.all(Array.from({ length: n }, (_, i) => echo.addTask(i)));
    const afterEnqueue = await watch.flush();
    const enqueues = countMatching(afterEnqueue, new RegExp(`"evalsha" "${enqueueSha}"`, "i"));
    assert.equal(enqueues, n, "one EVALSHA per enqueue");

    // Wait for the last task through the events channel, then count what the worker sent.
    await jobs[n - 1].result({ timeoutMs: 30_000 });
    await Promise.all(jobs.map((job) => job.result({ timeoutMs: 30_000 })));
    const all = await watch.flush();
    watch.close();
    const exchanges = countMatching(all, new RegExp(`"evalsha" "${exchangeSha}"`, "i"));
    const blocking = countMatching(all, /"bzpopmin"/i);
    const reads = countMatching(all, /"hgetall"/i);
    const other = all.length - enqueues - exchanges - blocking - reads;
    const perTask = (exchanges + blocking) / n;
    console.log(
      `round trips: ${
        enqueues / n
      } per enqueue; worker ${exchanges} exchanges + ${blocking} BZPOPMIN for ${n} tasks = ${
        perTask.toFixed(3)
      } per processed task; ${reads} HGETALL by ${n} result waiters`,
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

/**
 * Scenario 2: Redis is restarted while tasks flow.
 *
 * Redis runs with `appendonly yes` and `appendfsync always`, so every acknowledged write is on
 * disk, and holds other data too (ballast keys outside the app), as a production Redis does, so
 * that after the restart it spends a moment loading its AOF (answering `-LOADING` meanwhile). While the producer enqueues at a steady rate and two workers run tasks, a burst of tasks
 * is enqueued (so that many are queued, not yet claimed) and Redis is stopped (SIGTERM), stays
 * down for ~1.5 s, and is started again on the same port and directory; a second producer starts
 * enqueuing at that moment, as a producer process starting alongside Redis would.
 * Expected: no task lost (queued ones survive the restart from the AOF, enqueues during the
 * downtime or the AOF load either wait for Redis or reject with BackendError, and are re-sent),
 * every task
 * succeeds with its own result, no worker process crashes, and each still stops cleanly.
 * Duplicates are allowed only because a lease may expire while Redis is down.
 *
 * @module
 */
import { sendAll, SteadyProducer, type TaskSpec } from "../producer.ts";
import { outcome, Rig } from "../rig.ts";
import { Checks, randomInt, type Scenario, sleep } from "../scenario.ts";
import { wrongResults } from "../tally.ts";

const DOWN_MS = 1_500;
const BALLAST_BATCH = 50_000;
const BACKEND_TIMEOUT_MS = 5_000;

export const redisRestartScenario: Scenario = {
  id: 2,
  name: "Redis restart (AOF)",
  summary: "stop Redis mid-run, start it again on the same port and dir after ~1.5 s",
  async run(ctx) {
    const total = ctx.short ? 1_000 : 4_000;
    const perSecond = ctx.short ? 250 : 400;
    const checks = new Checks();
    const rig = await Rig.start(ctx, {
      name: "restart",
      redis: { persistent: true },
      workers: {
        concurrency: 8,
        leaseMs: 2_000,
        idleWakeMs: 250,
        backendTimeoutMs: BACKEND_TIMEOUT_MS,
      },
      producer: { backendTimeoutMs: BACKEND_TIMEOUT_MS },
    });
    // Other data in the same Redis (written by scripts, so it goes to the AOF as plain SETs).
    const ballast = ctx.short ? 300_000 : 1_000_000;
    for (let from = 0; from < ballast; from += BALLAST_BATCH) {
      await rig.inspect.command([
        "EVAL",
        "for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do redis.call('SET', 'ballast:' .. i, ARGV[3]) end",
        "0",
        String(from),
        String(Math.min(ballast, from + BALLAST_BATCH) - 1),
        "x".repeat(100),
      ]);
    }
    await rig.pool.start(2);
    ctx.log(
      `${ballast} ballast keys; 2 workers ready; enqueueing ${total} tasks at ${perSecond}/s`,
    );
    const producer = new SteadyProducer(rig.app, {
      total,
      perSecond,
      // Long enough that a few tasks are still queued or running when Redis stops.
      task: (i) => ["work", [i, randomInt(5, 30)]],
      backendTimeoutMs: BACKEND_TIMEOUT_MS,
    });
    const producing = producer.run();

    await sleep((total / perSecond) * 400); // 40 % into the run
    // A burst the workers cannot take at once: these wait in the queue while Redis is down.
    const burst: TaskSpec[] = Array.from(
      { length: ctx.short ? 300 : 1_000 },
      (_, i) => ["work", [total + i, randomInt(5, 30)]],
    );
    const burstUuids = await sendAll(rig.app, burst);
    const queued = Number(await rig.inspect.command(["ZCARD", rig.keys.queue]));
    const leased = Number(await rig.inspect.command(["ZCARD", rig.keys.leases]));
    ctx.log(`stopping Redis (${queued} queued, ${leased} running)`);
    const stoppedAt = Date.now();
    await rig.redis.stop();
    await sleep(DOWN_MS);
    const restarting = rig.redis.restart();
    // A producer process that starts while Redis is starting: its first commands arrive while
    // Redis still loads its AOF. Same rate, for one second.
    const lateOffset = total + burst.length;
    const late = new SteadyProducer(rig.newProducer(), {
      total: perSecond,
      perSecond,
      task: (i) => ["work", [lateOffset + i, randomInt(5, 30)]],
      backendTimeoutMs: BACKEND_TIMEOUT_MS,
    });
    const lateProducing = late.run();
    await restarting;
    const downSeconds = (Date.now() - stoppedAt) / 1000;
    ctx.log(`Redis back after ${downSeconds.toFixed(1)} s`);

    await Promise.all([producing, lateProducing]);
    const resent = await producer.resendRejected(30_000) + await late.resendRejected(30_000);
    for (const [who, p] of [["producer", producer], ["late producer", late]] as const) {
      checks.expect(p.problems.length === 0, `${who}: ${p.problems.join("; ")}`);
    }
    const expected = new Map(producer.sent);
    for (const [i, uuid] of burstUuids.entries()) expected.set(uuid, total + i);
    for (const [uuid, i] of late.sent) expected.set(uuid, lateOffset + i);
    const rejections = producer.rejections + late.rejections;
    const slowestMs = Math.max(producer.slowestMs, late.slowestMs);
    const uuids = [...expected.keys()];
    ctx.log(`sent ${uuids.length} (${resent} re-sent after rejection); settling`);

    const { records, counts } = await rig.settle(uuids, checks);
    checks.expect(counts.failed === 0, `${counts.failed} tasks failed`);
    const wrong = wrongResults(records, expected);
    checks.expect(wrong.length === 0, `${wrong.length} tasks stored a wrong result`);
    checks.expect(rig.redis.starts === 2, `Redis started ${rig.redis.starts} times, not 2`);
    checks.expect(queued > 0, "no task was queued when Redis stopped");
    const alive = rig.pool.live().length;
    checks.expect(alive === 2, `${alive} of 2 worker processes alive at the end`);
    const loading = /DB loaded from append only file: ([\d.]+) seconds/.exec(rig.redis.log)?.[1];
    checks.note(
      `Redis down ${downSeconds.toFixed(1)} s with ${queued} queued + ${leased} running ` +
        `(+${ballast} other keys; AOF load ${loading} s); ` +
        `a 2nd producer started during the restart; ${rejections} enqueues rejected and ` +
        `re-sent; slowest enqueue ${slowestMs} ms; ${counts.duplicated} ran twice ` +
        `(allowed only after a lease expired during the outage)`,
    );
    await rig.stopWorkers(checks);
    return outcome(counts, checks, rejections);
  },
};

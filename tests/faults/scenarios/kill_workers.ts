/**
 * Scenario 1: worker processes are killed with SIGKILL mid-task, again and again.
 *
 * Three worker processes run thousands of tasks of a few ms each, enqueued at a steady rate so
 * that tasks flow during the whole run. About every second a random
 * worker is killed (no chance to clean up: its running tasks, and results it had not stored yet,
 * are abandoned under their leases) and a replacement is started, as a supervisor would. With a
 * short lease, the survivors recover the abandoned tasks. Expected: every task succeeds exactly
 * as asked (its stored result is its index), none is lost; a task may run twice only because its
 * worker was killed, so duplicates are bounded by kills × 2 × concurrency.
 *
 * @module
 */
import { outcome, Rig } from "../rig.ts";
import { SteadyProducer } from "../producer.ts";
import { Checks, randomInt, type Scenario, sleep } from "../scenario.ts";
import { wrongResults } from "../tally.ts";

const WORKERS = 3;
const CONCURRENCY = 8;
const LEASE_MS = 1_500;

export const killWorkersScenario: Scenario = {
  id: 1,
  name: "kill -9 workers mid-task",
  summary: "SIGKILL a random worker about every second while tasks run; replace it",
  async run(ctx) {
    const total = ctx.short ? 2_000 : 10_000;
    const checks = new Checks();
    const rig = await Rig.start(ctx, {
      name: "kill9",
      workers: {
        concurrency: CONCURRENCY,
        leaseMs: LEASE_MS,
        idleWakeMs: 200,
        // Generous: a task is only redelivered when the worker holding it is killed.
        maxDeliveries: 10,
      },
    });
    await rig.pool.start(WORKERS);
    const perSecond = ctx.short ? 250 : 600;
    ctx.log(
      `${WORKERS} workers ready; enqueueing ${total} tasks at ${perSecond}/s, killing workers`,
    );
    const producer = new SteadyProducer(rig.app, {
      total,
      perSecond,
      task: (i) => ["work", [i, randomInt(1, 6)]],
      backendTimeoutMs: rig.app.config.backendTimeoutMs,
    });
    const producing = producer.run();

    // The killer: every ~1 s, SIGKILL one ready worker at random and start a replacement, until
    // every task has finished (all sent, nothing queued, quarantined or leased), the producer failed, or
    // well past the time the run should take (then settle() reports what is missing).
    let kills = 0;
    let failed = false;
    let produced = false;
    producing.then(() => produced = true, () => failed = true);
    const giveUpAt = Date.now() + (total / perSecond) * 1000 + 60_000;
    while (!failed && Date.now() < giveUpAt) {
      await sleep(randomInt(800, 1_200));
      if (produced && await unfinished(rig) === 0) break;
      // Kill a worker that holds leases (its id is in the lease members), so the kill hits tasks.
      const holders = await leaseHolders(rig);
      const ready = rig.pool.live().filter((worker) =>
        worker.isReady && holders.has(worker.id ?? "")
      );
      if (ready.length === 0) continue;
      ready[randomInt(0, ready.length - 1)].kill9();
      kills++;
      rig.pool.spawn();
    }
    await producing;
    checks.expect(producer.rejections === 0, `${producer.rejections} enqueues rejected`);
    checks.expect(producer.problems.length === 0, producer.problems.join("; "));
    const uuids = [...producer.sent.keys()];
    ctx.log(`${kills} workers killed; settling`);

    const { records, counts } = await rig.settle(uuids, checks);
    checks.expect(counts.failed === 0, `${counts.failed} tasks failed`);
    const wrong = wrongResults(records, producer.sent);
    checks.expect(wrong.length === 0, `${wrong.length} tasks stored a wrong result`);
    checks.expect(kills >= (ctx.short ? 2 : 5), `only ${kills} kills: the run was too short`);
    checks.expect(counts.redelivered > 0, "no task was redelivered: no kill hit a running task");
    checks.expect(
      counts.duplicated <= kills * 2 * CONCURRENCY,
      `${counts.duplicated} tasks ran twice: more than ${kills} kills can explain`,
    );
    checks.note(
      `${kills} SIGKILLs + replacements (lease ${LEASE_MS} ms); ${counts.redelivered} redelivered, ` +
        `${counts.duplicated} ran twice (allowed: their worker was killed)`,
    );
    await rig.stopWorkers(checks);
    return outcome(counts, checks);
  },
};

/** Tasks still queued, quarantined or running (under a lease). */
async function unfinished(rig: Rig): Promise<number> {
  let count = 0;
  for (const key of [rig.keys.queue, rig.keys.quarantine, rig.keys.leases]) {
    count += Number(await rig.inspect.command(["ZCARD", key]));
  }
  return count;
}

/** Ids of the workers that hold leases now (lease members are `uuid|workerId|deliveries`). */
async function leaseHolders(rig: Rig): Promise<Set<string>> {
  const members = await rig.inspect.command(["ZRANGE", rig.keys.leases, "0", "-1"]) as string[];
  return new Set(members.map((member) => member.split("|")[1]));
}

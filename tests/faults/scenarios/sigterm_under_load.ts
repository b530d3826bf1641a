/**
 * Scenario 4: one of several busy workers gets SIGTERM.
 *
 * Three workers (3 slots each) run tasks of 200–500 ms; more are queued than they can hold. Once
 * the first worker has all its slots busy, it gets SIGTERM. Expected: it prints SIGNAL, takes no
 * task after it (no RAN line after SIGNAL), finishes every task it was running (each ends as
 * success, stored by that worker, delivered once), and exits with code 0; the tasks still queued
 * at the signal are run by the other workers. No task lost, none run twice (nothing was killed
 * and no lease expired).
 *
 * @module
 */
import { sendAll, type TaskSpec } from "../producer.ts";
import { outcome, Rig } from "../rig.ts";
import { Checks, randomInt, type Scenario } from "../scenario.ts";
import { wrongResults } from "../tally.ts";

const CONCURRENCY = 3;
const GRACE_MS = 10_000;

export const sigtermScenario: Scenario = {
  id: 4,
  name: "SIGTERM under load",
  summary: "SIGTERM one busy worker: it finishes its tasks, takes no new one, exits 0",
  async run(ctx) {
    const total = ctx.short ? 36 : 90;
    const checks = new Checks();
    const rig = await Rig.start(ctx, {
      name: "sigterm",
      workers: { concurrency: CONCURRENCY, leaseMs: 5_000, idleWakeMs: 250, graceMs: GRACE_MS },
    });
    const [victim, ...others] = await rig.pool.start(3);
    const tasks: TaskSpec[] = Array.from(
      { length: total },
      (_, i) => ["work", [i, randomInt(200, 500)]],
    );
    const uuids = await sendAll(rig.app, tasks);
    const expected = new Map(uuids.map((uuid, i) => [uuid, i]));

    // Busy: every slot of the victim has started a task (after the first round, some may end).
    await victim.process.waitForLines(/^RAN /, CONCURRENCY, 20_000);
    const queuedAtSignal = Number(await rig.inspect.command(["ZCARD", rig.keys.queue]));
    victim.terminate();
    ctx.log(`SIGTERM to worker ${victim.index} (${queuedAtSignal} tasks queued)`);
    const code = await victim.process.exitCode(GRACE_MS + 10_000);
    checks.expect(code === 0, `the worker exited with code ${code} after SIGTERM, not 0`);

    // Its output: what it started before the signal, finished, and started after it.
    const lines = victim.process.lines;
    const signalAt = lines.indexOf("SIGNAL SIGTERM");
    checks.expect(signalAt >= 0, "the worker never printed SIGNAL SIGTERM");
    const before = signalAt >= 0 ? lines.slice(0, signalAt) : lines;
    const after = signalAt >= 0 ? lines.slice(signalAt + 1) : [];
    const uuidOf = (line: string) => line.split(" ")[1];
    const done = new Set(lines.filter((l) => l.startsWith("DONE ")).map(uuidOf));
    const inFlight = before.filter((l) => l.startsWith("RAN ")).map(uuidOf).filter((uuid) =>
      !before.includes(`DONE ${uuid} ${victim.process.pid}`)
    );
    const ranAfter = after.filter((l) => l.startsWith("RAN "));
    checks.expect(inFlight.length > 0, "the worker was not running any task at the signal");
    checks.expect(
      ranAfter.length === 0,
      `the worker started ${ranAfter.length} tasks after SIGTERM: ${ranAfter.join(", ")}`,
    );
    checks.expect(queuedAtSignal > 0, "no task was left in the queue for the other workers");

    const { records, counts } = await rig.settle(uuids, checks);
    for (const uuid of inFlight) {
      const record = records.get(uuid);
      checks.expect(done.has(uuid), `in-flight task ${uuid} did not finish on the stopping worker`);
      checks.expect(
        record?.status === "success" && record.workerId === victim.id &&
          record.deliveries === 1,
        `in-flight task ${uuid} ended as ${record?.status} by ${record?.workerId} ` +
          `(deliveries ${record?.deliveries}), not success by the stopping worker`,
      );
    }
    const byOthers =
      [...records.values()].filter((record) =>
        others.some((worker) => worker.id === record?.workerId)
      ).length;
    checks.expect(counts.failed === 0, `${counts.failed} tasks failed`);
    checks.expect(counts.duplicated === 0, `${counts.duplicated} tasks ran twice`);
    const wrong = wrongResults(records, expected);
    checks.expect(wrong.length === 0, `${wrong.length} tasks stored a wrong result`);
    checks.note(
      `SIGTERM with ${inFlight.length} tasks in flight (all finished there, success) and ` +
        `${queuedAtSignal} queued; exit code ${code}; ${ranAfter.length} started after the ` +
        `signal; the other workers ran ${byOthers}`,
    );
    await rig.stopWorkers(checks);
    return outcome(counts, checks);
  },
};

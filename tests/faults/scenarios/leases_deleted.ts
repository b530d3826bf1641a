/**
 * Scenario 8: the `{app}:leases` key is deleted (by hand, a script gone wrong, an eviction) while
 * tasks run, several times. Nothing ran elsewhere, so every settlement must be stored (the record
 * still names the worker and the delivery), the next renewal writes the lost leases back, and
 * every task reaches a final status. Expected: no task lost, none run twice, none left
 * `process`, and no worker warns that results were not stored.
 *
 * @module
 */
import { sendAll, type TaskSpec } from "../producer.ts";
import { outcome, Rig } from "../rig.ts";
import { Checks, randomInt, type Scenario, sleep } from "../scenario.ts";
import { wrongResults } from "../tally.ts";

export const leasesDeletedScenario: Scenario = {
  id: 8,
  name: "leases key deleted",
  summary: "DEL {app}:leases every 400 ms while 2 workers run tasks: every task still ends",
  async run(ctx) {
    const total = ctx.short ? 200 : 1_000;
    const checks = new Checks();
    const rig = await Rig.start(ctx, {
      name: "leases",
      workers: { concurrency: 8, leaseMs: 1_500, idleWakeMs: 250 },
    });
    await rig.pool.start(2);
    const tasks: TaskSpec[] = Array.from(
      { length: total },
      (_, i) => ["work", [i, randomInt(50, 400)]],
    );
    const uuids = await sendAll(rig.app, tasks);
    const expected = new Map(uuids.map((uuid, i) => [uuid, i]));
    let deletions = 0;
    let deleted = 0;
    for (;;) {
      const left = Number(await rig.inspect.command(["ZCARD", rig.keys.queue]));
      deleted += Number(await rig.inspect.command(["DEL", rig.keys.leases]));
      deletions++;
      if (left === 0) break;
      await sleep(400);
    }
    ctx.log(`deleted the leases key ${deleted} times (${deletions} tries)`);
    const { records, counts } = await rig.settle(uuids, checks);
    checks.expect(deleted > 0, "the leases key was never there to delete");
    checks.expect(counts.failed === 0, `${counts.failed} tasks failed`);
    checks.expect(counts.duplicated === 0, `${counts.duplicated} tasks ran twice`);
    const wrong = wrongResults(records, expected);
    checks.expect(wrong.length === 0, `${wrong.length} tasks stored a wrong result`);
    const refusals = [...rig.pool.lines()].filter((line) => /were not stored/.test(line));
    checks.expect(refusals.length === 0, `workers refused results: ${refusals.slice(0, 2)}`);
    checks.note(
      `leases key deleted ${deleted} times while tasks ran; every settlement stored, ` +
        `${refusals.length} refused, ${counts.duplicated} ran twice`,
    );
    await rig.stopWorkers(checks);
    return outcome(counts, checks);
  },
};

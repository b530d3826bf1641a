/**
 * Scenario 6: a task that kills its worker process every time it runs.
 *
 * The fixture's `die` task calls `getRuntime().exit(137)`, as an out-of-memory kill or a native
 * crash would. The pool acts as a supervisor and restarts every worker that dies. With
 * maxDeliveries 3 and a short lease, the task is delivered three times (three dead workers),
 * and then recovery ends it as error with DeliveryLimitError (deliveries 3) instead of
 * delivering it forever. Normal tasks enqueued around it must all succeed; those that shared a
 * worker with it when it died run again (allowed: their worker died).
 *
 * @module
 */
import { sendAll, type TaskSpec } from "../producer.ts";
import { outcome, Rig } from "../rig.ts";
import { Checks, randomInt, type Scenario } from "../scenario.ts";
import { wrongResults } from "../tally.ts";

const MAX_DELIVERIES = 3;
const LEASE_MS = 1_000;

export const crashingTaskScenario: Scenario = {
  id: 6,
  name: "task crashes its worker",
  summary: "a task exits its process on every run: DeliveryLimitError after 3 deliveries",
  async run(ctx) {
    const normal = ctx.short ? 60 : 200;
    const checks = new Checks();
    const rig = await Rig.start(ctx, {
      name: "die",
      workers: {
        concurrency: 4,
        leaseMs: LEASE_MS,
        idleWakeMs: 200,
        maxDeliveries: MAX_DELIVERIES,
      },
    });
    await rig.pool.start(2);
    rig.pool.supervise();
    const half = Math.floor(normal / 2);
    const normalSpec = (i: number): TaskSpec => ["work", [i, randomInt(5, 20)]];
    const first = await sendAll(rig.app, Array.from({ length: half }, (_, i) => normalSpec(i)));
    const [die] = await sendAll(rig.app, [["die", []]]);
    const second = await sendAll(
      rig.app,
      Array.from({ length: normal - half }, (_, i) => normalSpec(half + i)),
    );
    const normalUuids = [...first, ...second];
    ctx.log(`enqueued ${normal} normal tasks and one that kills its worker`);

    const { records, counts, executions } = await rig.settle([...normalUuids, die], checks);
    const record = records.get(die);
    checks.expect(
      record?.status === "error" && record.error?.type === "DeliveryLimitError",
      `the crashing task ended as ${record?.status} ${record?.error?.type}, ` +
        "not error DeliveryLimitError",
    );
    checks.expect(
      record?.deliveries === MAX_DELIVERIES,
      `the crashing task was delivered ${record?.deliveries} times, not ${MAX_DELIVERIES}`,
    );
    checks.expect(
      executions.get(die) === MAX_DELIVERIES,
      `the crashing task ran ${executions.get(die)} times, not ${MAX_DELIVERIES}`,
    );
    const deaths = rig.pool.crashes();
    checks.expect(
      deaths.length === MAX_DELIVERIES && deaths.every((death) => death.endsWith("code 137")),
      `worker deaths: ${deaths.join(", ") || "none"}; expected ${MAX_DELIVERIES} × code 137`,
    );
    const collateral = normalUuids.filter((uuid) => records.get(uuid)?.status !== "success");
    checks.expect(
      collateral.length === 0,
      `${collateral.length} normal tasks did not succeed: ${
        collateral.slice(0, 5).map((uuid) =>
          `${uuid} ${records.get(uuid)?.status} ${records.get(uuid)?.error?.type} ` +
          `(deliveries ${records.get(uuid)?.deliveries})`
        ).join(", ")
      }`,
    );
    const wrong = wrongResults(records, new Map(normalUuids.map((uuid, i) => [uuid, i])));
    checks.expect(wrong.length === 0, `${wrong.length} tasks stored a wrong result`);
    const ranTwice = normalUuids.filter((uuid) => (executions.get(uuid) ?? 0) > 1).length;
    checks.note(
      `the task killed ${deaths.length} workers (${rig.pool.restarts} restarted), ended as ` +
        `${record?.error?.type} with deliveries ${record?.deliveries}; ` +
        `${ranTwice} normal tasks ran twice (allowed: their worker died with it)`,
    );
    rig.pool.unsupervise();
    await rig.stopWorkers(checks, /code 137$/);
    return outcome(counts, checks);
  },
};

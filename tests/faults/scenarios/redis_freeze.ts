/**
 * Scenario 3: Redis is unreachable for 10 s (3 s in the short form), then comes back.
 *
 * The redis-server process is frozen with SIGSTOP: its port still accepts TCP connections, but
 * nothing answers (the nastiest outage: no "connection refused", only silence). The producer
 * keeps enqueuing at a steady rate and the workers keep trying. backendTimeoutMs (2 s) is
 * shorter than the outage, so enqueues must reject with a BackendError (code
 * BACKEND_UNAVAILABLE, no password in the message: the URL carries one) within about
 * 2 × backendTimeoutMs instead of hanging; those are counted as rejected at enqueue and re-sent
 * after SIGCONT. Expected: no task lost, every worker process alive and taking tasks again after
 * the outage. Leases (3 s) expire during the outage, so a task may run twice.
 *
 * @module
 */
import { SteadyProducer } from "../producer.ts";
import { outcome, Rig } from "../rig.ts";
import { Checks, randomInt, type Scenario, sleep } from "../scenario.ts";
import { wrongResults } from "../tally.ts";

const BACKEND_TIMEOUT_MS = 2_000;
const LEASE_MS = 3_000;
const PER_SECOND = 100;

export const redisFreezeScenario: Scenario = {
  id: 3,
  name: "Redis unreachable (SIGSTOP)",
  summary: "SIGSTOP redis-server for 10 s (short: 3 s) while enqueuing, then SIGCONT",
  async run(ctx) {
    const outageMs = ctx.short ? 3_000 : 10_000;
    const beforeMs = 2_000;
    const afterMs = 3_000;
    const total = Math.round(((beforeMs + outageMs + afterMs) / 1000) * PER_SECOND);
    const password = `pw-${crypto.randomUUID()}`;
    const checks = new Checks();
    const rig = await Rig.start(ctx, {
      name: "freeze",
      redis: { password },
      workers: {
        concurrency: 8,
        leaseMs: LEASE_MS,
        idleWakeMs: 250,
        backendTimeoutMs: BACKEND_TIMEOUT_MS,
      },
      producer: { backendTimeoutMs: BACKEND_TIMEOUT_MS },
    });
    const workers = await rig.pool.start(2);
    ctx.log(`2 workers ready; enqueueing ${total} tasks at ${PER_SECOND}/s`);
    const producer = new SteadyProducer(rig.app, {
      total,
      perSecond: PER_SECOND,
      task: (i) => ["work", [i, randomInt(5, 50)]],
      backendTimeoutMs: BACKEND_TIMEOUT_MS,
      secret: password,
    });
    const producing = producer.run();

    await sleep(beforeMs);
    ctx.log(`SIGSTOP redis-server for ${outageMs / 1000} s`);
    rig.redis.pause();
    const issuedAtPause = producer.issued;
    await sleep(outageMs);
    rig.redis.resume();
    // Where each worker's output stood at SIGCONT: it must run tasks after this point.
    const linesAtResume = workers.map((worker) => worker.process.lines.length);
    const issuedDuringOutage = producer.issued - issuedAtPause;
    ctx.log("SIGCONT");

    await producing;
    const resent = await producer.resendRejected(30_000);
    checks.expect(producer.problems.length === 0, producer.problems.slice(0, 5).join("; "));
    checks.expect(
      producer.rejections > 0,
      "no enqueue rejected: the producer never saw the outage",
    );
    const uuids = [...producer.sent.keys()];
    ctx.log(`sent ${uuids.length} (${resent} re-sent after rejection); settling`);

    const { records, counts } = await rig.settle(uuids, checks);
    checks.expect(counts.failed === 0, `${counts.failed} tasks failed`);
    const wrong = wrongResults(records, producer.sent);
    checks.expect(wrong.length === 0, `${wrong.length} tasks stored a wrong result`);
    for (const [i, worker] of workers.entries()) {
      checks.expect(worker.alive, `worker ${worker.index} died`);
      const ranAfter = worker.process.lines.slice(linesAtResume[i]).filter((line) =>
        line.startsWith("RAN ")
      ).length;
      checks.expect(ranAfter > 0, `worker ${worker.index} ran no task after the outage`);
    }
    // Connection errors are logged by the workers (and the producer): never with the password.
    const leaks =
      rig.pool.workers.filter((worker) =>
        worker.process.stdout.includes(password) || worker.process.stderr.includes(password)
      ).length + rig.producerWarnings.filter((line) => line.includes(password)).length;
    checks.expect(leaks === 0, `the Redis password appears in ${leaks} logs`);
    checks.note(
      `frozen ${outageMs / 1000} s (backendTimeoutMs ${BACKEND_TIMEOUT_MS}); ` +
        `${producer.rejections} enqueues rejected (${issuedDuringOutage} started during it) with ` +
        `BackendError, no password in errors or logs, slowest ${producer.slowestMs} ms, all re-sent; ` +
        `${counts.duplicated} ran twice (allowed: leases of ${LEASE_MS} ms expired)`,
    );
    ctx.log(`first rejection: ${producer.firstRejection}`);
    await rig.stopWorkers(checks);
    return outcome(counts, checks, producer.rejections);
  },
};

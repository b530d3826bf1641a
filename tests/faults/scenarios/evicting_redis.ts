/**
 * Scenario 7: a Redis whose maxmemory-policy evicts keys (`--maxmemory 5mb --maxmemory-policy
 * allkeys-lru`). Such a server deletes task records, queues and leases when memory runs out, so
 * tasks would be lost silently (4,000 enqueues once left 910 records `new` forever). Expected: a
 * worker process refuses to start (it exits with the ConfigError naming maxmemory-policy and the
 * fix), the producer's addTask rejects with the same ConfigError, and nothing is written.
 *
 * @module
 */
import { ConfigError } from "../../../mod.ts";
import { RedisConnection } from "../../../src/backends/redis/mod.ts";
import { Rig } from "../rig.ts";
import { Checks, type Scenario } from "../scenario.ts";

export const evictingRedisScenario: Scenario = {
  id: 7,
  name: "evicting Redis refused",
  summary: "a worker and a producer on a Redis with maxmemory-policy allkeys-lru refuse to run",
  async run(ctx) {
    const checks = new Checks();
    const rig = await Rig.start(ctx, {
      name: "evict",
      redis: { args: ["--maxmemory", "5mb", "--maxmemory-policy", "allkeys-lru"] },
      workers: { concurrency: 4, leaseMs: 5_000, idleWakeMs: 250 },
    });
    const worker = rig.pool.spawn();
    worker.endedOnPurpose = true; // it is meant to refuse and exit
    let started = false;
    await worker.ready.then(() => started = true, () => {});
    if (!started) await worker.ended;
    checks.expect(!started, "the worker started on an evicting Redis");
    const status = worker.process.exitStatus;
    checks.expect(
      status !== undefined && status.code !== 0,
      `the worker should exit with an error, got ${JSON.stringify(status)}`,
    );
    const output = worker.process.stdout + worker.process.stderr;
    checks.expect(
      /maxmemory-policy is "allkeys-lru"/.test(output) && /noeviction/.test(output),
      `the worker's output does not name the setting and the fix: ${output.slice(-300)}`,
    );

    let refused = 0;
    for (let i = 0; i < 20; i++) {
      try {
        await rig.app.addTask("work", [i, 1]);
        checks.expect(false, "addTask succeeded on an evicting Redis");
      } catch (error) {
        if (error instanceof ConfigError) refused++;
        else checks.expect(false, `addTask rejected with ${error}, not ConfigError`);
      }
    }
    checks.expect(refused === 20, `${refused} of 20 enqueues refused with ConfigError`);
    // The rig's own connection refuses this server too: a raw one that accepts it counts keys.
    const raw = new RedisConnection({ url: rig.redis.url, allowEviction: true });
    const keys = Number(await raw.command(["DBSIZE"]).finally(() => raw.close()));
    checks.expect(keys === 0, `${keys} keys were written`);
    checks.note(
      `worker exited with ${status?.code ?? status?.signal} naming maxmemory-policy; ` +
        `${refused} enqueues refused with ConfigError; ${keys} keys written`,
    );
    return {
      sent: 0,
      succeeded: 0,
      failed: 0,
      lost: 0,
      duplicated: 0,
      redelivered: 0,
      rejectedAtEnqueue: refused,
      notes: checks.notes,
      problems: checks.problems,
    };
  },
};

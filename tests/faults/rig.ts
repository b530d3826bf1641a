/**
 * The test rig of one scenario: a private redis-server, a producer app in the runner process, a
 * raw connection for inspecting and injecting keys, and the pool of worker processes; all
 * disposed through the scenario's scope. {@linkcode Rig.settle} does the common end of a
 * scenario: wait for every task to be final, count, and check that nothing is left behind.
 *
 * @module
 */
import { type Logger, type QueueConfigInput, QueueTasks, type TaskRecord } from "../../mod.ts";
import { RedisConnection, type RedisKeys, redisKeys } from "../../src/backends/redis/mod.ts";
import { RedisServer, type RedisServerOptions } from "./redis_server.ts";
import type { Checks, ScenarioContext, ScenarioOutcome } from "./scenario.ts";
import { awaitFinal, countExecutions, type Counts, leftovers, tally } from "./tally.ts";
import { WorkerPool, type WorkerSettings } from "./worker_pool.ts";

/** Options of {@linkcode Rig.start}. */
export interface RigOptions {
  /** Part of the app name (`faults-<name>-<random>`). */
  name: string;
  /** The private Redis. */
  redis?: RedisServerOptions;
  /** Worker settings other than app and URL. */
  workers: Omit<WorkerSettings, "app" | "redisUrl">;
  /** Config of the producer app (backendTimeoutMs, maxPayloadBytes, …). */
  producer?: QueueConfigInput;
}

/** The end of a scenario: records, counts, executions. */
export interface Settled {
  /** Last record of every task. */
  records: Map<string, TaskRecord | undefined>;
  /** The row's counts. */
  counts: Counts;
  /** Executions per uuid (RAN lines). */
  executions: Map<string, number>;
}

/** Everything a scenario runs on. */
export class Rig {
  /** App name (also the Redis key prefix). */
  readonly appName: string;
  /** The private Redis. */
  readonly redis: RedisServer;
  /** The producer app (never starts a worker). */
  readonly app: QueueTasks;
  /** Raw commands: inspection and injection. */
  readonly inspect: RedisConnection;
  /** The app's Redis keys. */
  readonly keys: RedisKeys;
  /** The worker processes. */
  readonly pool: WorkerPool;
  /** Warnings the producer app logged (connection errors during outages). */
  readonly producerWarnings: string[] = [];
  readonly #ctx: ScenarioContext;
  readonly #options: RigOptions;

  private constructor(ctx: ScenarioContext, options: RigOptions, redis: RedisServer) {
    this.#ctx = ctx;
    this.#options = options;
    this.appName = `faults-${options.name}-${crypto.randomUUID().slice(0, 8)}`;
    this.redis = redis;
    this.keys = redisKeys(this.appName);
    this.app = this.#producerApp();
    this.inspect = new RedisConnection({ url: redis.url, timeoutMs: 5_000 });
    this.pool = new WorkerPool(
      { ...options.workers, app: this.appName, redisUrl: redis.url },
      { verbose: ctx.verbose },
    );
  }

  /** Starts the private Redis and prepares the rest; everything is disposed by `ctx.scope`. */
  static async start(ctx: ScenarioContext, options: RigOptions): Promise<Rig> {
    const redis = await RedisServer.start(options.redis);
    ctx.scope.defer(() => redis.dispose());
    const rig = new Rig(ctx, options, redis);
    // Disposed in reverse: workers first, then the clients, then the server (deferred above).
    ctx.scope.defer(() => rig.inspect.close());
    ctx.scope.defer(() => rig.app.stop());
    ctx.scope.defer(() => rig.pool.dispose());
    return rig;
  }

  /**
   * Another producer app of the same app name, with its own connection (a producer process that
   * starts later); stopped by the scenario's scope.
   */
  newProducer(): QueueTasks {
    const app = this.#producerApp();
    this.#ctx.scope.defer(() => app.stop());
    return app;
  }

  #producerApp(): QueueTasks {
    const warn = (message: string) => {
      this.producerWarnings.push(message);
      if (this.#ctx.verbose) console.error(`[producer warn] ${message}`);
    };
    const logger: Logger = { debug: () => {}, info: () => {}, warn, error: warn };
    return new QueueTasks({
      name: this.appName,
      brokerUrl: this.redis.url,
      env: false,
      logger,
      config: { logsDefaultLevel: "warn", ...this.#options.producer },
    });
  }

  /**
   * Waits until every task in `uuids` is final (or `timeoutMs` passes), counts them, and checks
   * what is left in Redis: no queue entry, no lease, no record that is not final (also records
   * the producer does not know about). Lost tasks and leftovers become problems in `checks`.
   */
  async settle(uuids: Iterable<string>, checks: Checks, timeoutMs = 120_000): Promise<Settled> {
    const records = await awaitFinal(this.app, uuids, timeoutMs);
    const executions = countExecutions(this.pool.lines());
    const counts = tally(records, executions);
    checks.expect(
      counts.lost === 0,
      `${counts.lost} tasks lost: ${counts.lostDetail.slice(0, 5).join(", ")}`,
    );
    const left = await leftovers(this.inspect, this.keys, new Set(records.keys()));
    checks.expect(left.queued === 0, `${left.queued} entries left in the queue`);
    checks.expect(left.leased === 0, `${left.leased} leases left`);
    checks.expect(
      left.unfinished.length === 0,
      `${left.unfinished.length} records not final: ${left.unfinished.slice(0, 5).join(", ")}`,
    );
    if (left.strays.length > 0) {
      // An enqueue whose reply was lost can reject and still have stored the task: it is not
      // counted as sent, but it must not be stuck either (checked with `unfinished` above).
      checks.note(`${left.strays.length} task(s) stored by enqueues that reported a failure`);
    }
    return { records, counts, executions };
  }

  /**
   * Checks that no worker process died unless the scenario meant it (`allowedCrashes`: exit
   * statuses it caused, such as `code 137`), then stops the running ones with SIGTERM: each must
   * exit with code 0.
   */
  async stopWorkers(checks: Checks, allowedCrashes: RegExp = /^$/): Promise<void> {
    const crashes = this.pool.crashes().filter((crash) => !allowedCrashes.test(crash));
    checks.expect(crashes.length === 0, `worker processes died: ${crashes.join(", ")}`);
    const codes = await this.pool.stopAll();
    checks.expect(
      codes.every((code) => code === 0),
      `workers did not stop cleanly on SIGTERM: exit codes ${codes.join(", ")}`,
    );
  }
}

/** A row's content from the counts and checks. */
export function outcome(
  counts: Counts,
  checks: Checks,
  rejectedAtEnqueue = 0,
): ScenarioOutcome {
  return {
    sent: counts.sent,
    succeeded: counts.succeeded,
    failed: counts.failed,
    lost: counts.lost,
    duplicated: counts.duplicated,
    redelivered: counts.redelivered,
    rejectedAtEnqueue,
    notes: checks.notes,
    problems: checks.problems,
  };
}

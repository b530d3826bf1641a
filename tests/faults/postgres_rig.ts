/**
 * The test rig of one PostgreSQL fault scenario: a private PostgreSQL server
 * ({@linkcode PostgresServer}), a producer app in the runner process, a connection for
 * inspecting the tables, and the pool of worker processes (the fixture's broker URL is the
 * server's `postgres://` URL); all disposed through the scenario's scope. The PostgreSQL twin of
 * rig.ts.
 *
 * @module
 */
import { type Logger, type QueueConfigInput, QueueTasks } from "../../mod.ts";
import { PostgresConnection } from "../../src/backends/postgres/mod.ts";
import { PostgresServer } from "./postgres_server.ts";
import type { Settled } from "./rig.ts";
import type { Checks, ScenarioContext } from "./scenario.ts";
import { awaitFinal, countExecutions, FINAL_STATUSES, tally } from "./tally.ts";
import { WorkerPool, type WorkerSettings } from "./worker_pool.ts";

/** Options of {@linkcode PgRig.start}. */
export interface PgRigOptions {
  /** Part of the app name (`faults-<name>-<random>`). */
  name: string;
  /** Worker settings other than app and URL. */
  workers: Omit<WorkerSettings, "app" | "redisUrl">;
  /** Config of the producer app. */
  producer?: QueueConfigInput;
}

/** Everything a PostgreSQL scenario runs on. */
export class PgRig {
  /** App name. */
  readonly appName: string;
  /** The private server. */
  readonly server: PostgresServer;
  /** The producer app (never starts a worker). */
  readonly app: QueueTasks;
  /** Inspection queries (its own pool). */
  readonly inspect: PostgresConnection;
  /** The worker processes. */
  readonly pool: WorkerPool;
  /** Warnings the producer app logged (connection errors during outages). */
  readonly producerWarnings: string[] = [];
  readonly #ctx: ScenarioContext;
  readonly #options: PgRigOptions;

  private constructor(ctx: ScenarioContext, options: PgRigOptions, server: PostgresServer) {
    this.#ctx = ctx;
    this.#options = options;
    this.appName = `faults-${options.name}-${crypto.randomUUID().slice(0, 8)}`;
    this.server = server;
    this.app = this.#producerApp();
    this.inspect = new PostgresConnection({ url: server.url, max: 2 });
    this.inspect.acquire();
    this.pool = new WorkerPool(
      { ...options.workers, app: this.appName, redisUrl: server.url },
      { verbose: ctx.verbose },
    );
  }

  /** Starts the private server and prepares the rest; everything is disposed by `ctx.scope`. */
  static async start(ctx: ScenarioContext, options: PgRigOptions): Promise<PgRig> {
    const server = await PostgresServer.start();
    ctx.scope.defer(() => server.dispose());
    const rig = new PgRig(ctx, options, server);
    ctx.scope.defer(() => rig.inspect.release());
    ctx.scope.defer(() => rig.app.stop());
    ctx.scope.defer(() => rig.pool.dispose());
    // The schema exists before the workers start (they would create it too, under a lock).
    await rig.inspect.ready();
    return rig;
  }

  /** Another producer app of the same app name, with its own connection. */
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
      brokerUrl: this.server.url,
      env: false,
      logger,
      config: { logsDefaultLevel: "warn", ...this.#options.producer },
    });
  }

  /** Runs one inspection query (the schema `qtasks`, this app). */
  // deno-lint-ignore no-explicit-any
  async query(text: string): Promise<any[]> {
    return await this.inspect.run(this.inspect.sql, text.replaceAll("S.", `${this.inspect.s}.`), [
      this.appName,
    ]);
  }

  /** Queue entries (queued, scheduled, quarantined, parked) of the app. */
  async queued(): Promise<number> {
    return Number((await this.query(`select count(*)::int as n from S.queue where app = $1`))[0].n);
  }

  /** Leases (running tasks) of the app. */
  async leased(): Promise<number> {
    return Number(
      (await this.query(`select count(*)::int as n from S.leases where app = $1`))[0].n,
    );
  }

  /** How many leases worker `workerId` holds now. */
  async leasesOf(workerId: string): Promise<number> {
    const rows = await this.inspect.run(
      this.inspect.sql,
      `select count(*)::int as n from ${this.inspect.s}.leases where app = $1 and worker_id = $2`,
      [this.appName, workerId],
    );
    return Number(rows[0].n);
  }

  /** The server's clock now (ms since the epoch): the clock of lease deadlines. */
  async serverNowMs(): Promise<number> {
    const rows = await this.inspect.run(
      this.inspect.sql,
      `select (extract(epoch from clock_timestamp()) * 1000)::float8 as now`,
    );
    return Number(rows[0].now);
  }

  /** Ids of the workers that hold leases now. */
  async leaseHolders(): Promise<Set<string>> {
    const rows = await this.query(`select distinct worker_id from S.leases where app = $1`);
    return new Set(rows.map((row) => row.worker_id as string));
  }

  /**
   * Waits until every task in `uuids` is final (or `timeoutMs` passes), counts them, and checks
   * what is left: no queue entry, no lease, no live record that is not final.
   */
  async settle(uuids: Iterable<string>, checks: Checks, timeoutMs = 120_000): Promise<Settled> {
    // Progress on stderr while waiting: the tasks not final yet, and the leases.
    const progress = setInterval(() => {
      this.query(
        `select (select count(*) from S.records where app = $1 and status not in ('success', 'error', 'cancel'))::int as open,
           (select count(*) from S.leases where app = $1)::int as leased,
           (select count(*) from S.queue where app = $1)::int as queued`,
      ).then(([row]) =>
        this.#ctx.log(`settling: ${row.open} not final, ${row.queued} queued, ${row.leased} leased`)
      ).catch(() => {});
    }, 5_000);
    const records = await awaitFinal(this.app, uuids, timeoutMs).finally(() =>
      clearInterval(progress)
    );
    const executions = countExecutions(this.pool.lines());
    const counts = tally(records, executions);
    checks.expect(
      counts.lost === 0,
      `${counts.lost} tasks lost: ${counts.lostDetail.slice(0, 5).join(", ")}`,
    );
    const queued = await this.queued();
    const leased = await this.leased();
    checks.expect(queued === 0, `${queued} entries left in the queue`);
    checks.expect(leased === 0, `${leased} leases left`);
    const rows = await this.query(
      `select uuid, status from S.records where app = $1
         and (expires_at is null or expires_at > clock_timestamp())`,
    );
    const known = new Set(records.keys());
    const unfinished = rows.filter((row) => !FINAL_STATUSES.includes(row.status)).map((row) =>
      row.uuid as string
    );
    checks.expect(
      unfinished.length === 0,
      `${unfinished.length} records not final: ${unfinished.slice(0, 5).join(", ")}`,
    );
    const strays = rows.filter((row) => !known.has(row.uuid)).length;
    if (strays > 0) checks.note(`${strays} task(s) stored by enqueues that reported a failure`);
    return { records, counts, executions };
  }

  /**
   * Checks that no worker process died unless the scenario meant it, then stops the running ones
   * with SIGTERM: each must exit with code 0.
   */
  async stopWorkers(checks: Checks, allowedCrashes: RegExp = /^$/): Promise<void> {
    const crashes = this.pool.crashes().filter((crash) => !allowedCrashes.test(crash));
    checks.expect(crashes.length === 0, `worker processes died: ${crashes.join(", ")}`);
    // A replacement still starting has no signal handler yet (SIGTERM would end it by signal):
    // let it get READY first, as a supervisor stops only what it has started.
    await Promise.allSettled(this.pool.live().map((worker) => worker.ready));
    const codes = await this.pool.stopAll();
    checks.expect(
      codes.every((code) => code === 0),
      `workers did not stop cleanly on SIGTERM: exit codes ${codes.join(", ")}`,
    );
  }
}

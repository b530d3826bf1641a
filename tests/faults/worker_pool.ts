/**
 * Worker processes of one scenario: tests/faults/fixtures/fault_worker.ts started with the
 * runner's runtime (tests/support/spawn_runtime.ts), configured through `FAULT_*` variables.
 * The pool keeps every process it ever started (also the dead ones: their `RAN` lines count),
 * kills on demand, and can act as a supervisor that starts a replacement whenever one dies.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { type SpawnedProcess, spawnRuntime } from "../support/spawn_runtime.ts";
import { track } from "./cleanup.ts";

/** The worker fixture program. */
export const FAULT_WORKER: string = fileURLToPath(
  new URL("./fixtures/fault_worker.ts", import.meta.url),
);

/** Settings of the worker processes (each becomes a `FAULT_*` variable). */
export interface WorkerSettings {
  /** App name. */
  app: string;
  /** Redis URL (may carry a password). */
  redisUrl: string;
  /** maxTasksProcess. */
  concurrency: number;
  /** leaseMs. */
  leaseMs: number;
  /** idleWakeMs. */
  idleWakeMs: number;
  /** maxDeliveries (default 5). */
  maxDeliveries?: number;
  /** backendTimeoutMs (default 5000). */
  backendTimeoutMs?: number;
  /** shutdownGraceMs (default 10 000). */
  graceMs?: number;
  /** maxTime of the fixture's `hang` task (default 300). */
  hangMaxTimeMs?: number;
}

/** How long a worker process may take to print READY (a loaded 2-core machine is slow). */
const READY_TIMEOUT_MS = 60_000;
/** Longest wait on an exit that has no deadline of its own (below setTimeout's 2^31-1 limit). */
const FOREVER_MS = 24 * 3_600_000;

/** One worker process. */
export class FaultWorker {
  /** 1, 2, 3, … in start order. */
  readonly index: number;
  /** The process. */
  readonly process: SpawnedProcess;
  /** Resolves with the worker id once it prints READY; rejects if it dies first. */
  readonly ready: Promise<string>;
  /** Resolves when the process has ended. */
  readonly ended: Promise<void>;
  /** Set when the suite ended it on purpose (SIGKILL, SIGTERM), so its end is no crash. */
  endedOnPurpose = false;
  #id: string | undefined;

  constructor(index: number, process: SpawnedProcess) {
    this.index = index;
    this.process = process;
    this.ready = process.waitForLine(/^READY (\d+) (\S+)$/, READY_TIMEOUT_MS).then((match) =>
      this.#id = match[2]
    );
    this.ready.catch(() => {}); // observed by whoever awaits it
    this.ended = process.exited(FOREVER_MS).then(() => {}, () => {});
  }

  /** The worker id (owner of its leases), once READY. */
  get id(): string | undefined {
    return this.#id;
  }

  /** Whether the process still runs. */
  get alive(): boolean {
    return this.process.exitStatus === undefined;
  }

  /** Whether it is running and has printed READY. */
  get isReady(): boolean {
    return this.alive && this.#id !== undefined;
  }

  /** SIGKILL, recorded as intended. */
  kill9(): void {
    this.endedOnPurpose = true;
    this.process.signal("SIGKILL");
  }

  /** SIGTERM (graceful stop), recorded as intended. */
  terminate(): void {
    this.endedOnPurpose = true;
    this.process.signal("SIGTERM");
  }
}

/** Options of {@linkcode WorkerPool}. */
export interface WorkerPoolOptions {
  /** Echo every worker's output to stderr. */
  verbose?: boolean;
}

/** The worker processes of a scenario. */
export class WorkerPool {
  /** Every worker ever started, in start order. */
  readonly workers: FaultWorker[] = [];
  /** How many replacements the supervisor started. */
  restarts = 0;
  readonly #settings: WorkerSettings;
  readonly #verbose: boolean;
  #supervising = false;

  constructor(settings: WorkerSettings, options: WorkerPoolOptions = {}) {
    this.#settings = settings;
    this.#verbose = options.verbose ?? false;
  }

  /** Starts one worker process (does not wait for READY). */
  spawn(): FaultWorker {
    const s = this.#settings;
    const child = spawnRuntime(FAULT_WORKER, {
      verbose: this.#verbose,
      env: {
        FAULT_APP: s.app,
        FAULT_REDIS_URL: s.redisUrl,
        FAULT_CONCURRENCY: String(s.concurrency),
        FAULT_LEASE_MS: String(s.leaseMs),
        FAULT_IDLE_WAKE_MS: String(s.idleWakeMs),
        FAULT_MAX_DELIVERIES: String(s.maxDeliveries ?? 5),
        FAULT_BACKEND_TIMEOUT_MS: String(s.backendTimeoutMs ?? 5_000),
        FAULT_GRACE_MS: String(s.graceMs ?? 10_000),
        FAULT_HANG_MAX_TIME_MS: String(s.hangMaxTimeMs ?? 300),
      },
    });
    const worker = new FaultWorker(this.workers.length + 1, child);
    this.workers.push(worker);
    const untrack = track(() => child.signal("SIGKILL"));
    void worker.ended.then(() => {
      untrack();
      // A supervisor restarts whatever died, crash or kill alike.
      if (this.#supervising) {
        this.restarts++;
        this.spawn();
      }
    });
    return worker;
  }

  /** Starts `count` workers and waits until every one is READY. */
  async start(count: number): Promise<FaultWorker[]> {
    const started = Array.from({ length: count }, () => this.spawn());
    await Promise.all(started.map((worker) => worker.ready));
    return started;
  }

  /** From now on, start a replacement whenever a worker process ends. */
  supervise(): void {
    this.#supervising = true;
  }

  /** Stop replacing dead workers. */
  unsupervise(): void {
    this.#supervising = false;
  }

  /** The workers whose process still runs. */
  live(): FaultWorker[] {
    return this.workers.filter((worker) => worker.alive);
  }

  /** Workers that ended without being killed on purpose, with how they ended. */
  crashes(): string[] {
    return this.workers.filter((worker) => !worker.alive && !worker.endedOnPurpose).map(
      (worker) => {
        const status = worker.process.exitStatus!;
        return `worker ${worker.index} ended with ${
          status.signal ? `signal ${status.signal}` : `code ${status.code}`
        }`;
      },
    );
  }

  /** Every stdout line of every worker process, dead or alive. */
  *lines(): Generator<string> {
    for (const worker of this.workers) yield* worker.process.lines;
  }

  /**
   * Stops every running worker with SIGTERM (graceful: it finishes its tasks and exits 0) and
   * returns the exit codes; one that does not exit in time is killed and reported as `null`.
   */
  async stopAll(timeoutMs = 30_000): Promise<Array<number | null>> {
    this.#supervising = false;
    // A replacement still starting has no SIGTERM handler yet (the signal would end it at once,
    // with no exit code): each one is first given until it is READY (or ends).
    await Promise.all(this.live().map((worker) => worker.ready.catch(() => {})));
    const live = this.live();
    for (const worker of live) worker.terminate();
    return await Promise.all(live.map(async (worker) => {
      try {
        return await worker.process.exitCode(timeoutMs);
      } catch {
        await worker.process.kill();
        return null;
      }
    }));
  }

  /** Kills every worker process still running and waits until they have ended. For `finally`. */
  async dispose(): Promise<void> {
    this.#supervising = false;
    await Promise.all(this.workers.map((worker) => worker.process.kill()));
  }
}

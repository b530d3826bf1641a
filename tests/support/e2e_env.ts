/**
 * Shared setup of the end-to-end tests: the Redis URL, unique app names, a producer-side app in
 * the test process, and starting the worker fixture in its own process.
 *
 * @module
 */
import process from "node:process";
import { fileURLToPath } from "node:url";
import { QueueTasks } from "../../mod.ts";
import { runtimeName, type SpawnedProcess, spawnRuntime } from "./spawn_runtime.ts";

/** Where the tests find Redis (env `QTASKS_TEST_REDIS_URL`, default the local server). */
export const REDIS_URL: string = process.env.QTASKS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** The worker fixture program. */
export const WORKER_FIXTURE: string = fixture("worker.ts");
/** The producer fixture program. */
export const PRODUCER_FIXTURE: string = fixture("producer.ts");

/** Absolute path of a file in tests/e2e/fixtures. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../e2e/fixtures/${name}`, import.meta.url));
}

/** Absolute path of a file in the repository, from its root. */
export function repoPath(path: string): string {
  return fileURLToPath(new URL(`../../${path}`, import.meta.url));
}

/** An app name no other test (or test run on another runtime) uses: `e2e-<what>-<runtime>-<random>`. */
export function uniqueAppName(what: string): string {
  return `e2e-${what}-${runtimeName()}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * An app on Redis for the test process: it enqueues, reads and awaits results, and never starts
 * a worker. Config comes from code only (not from `QTASKS_*` variables); logs at `warn`.
 */
export function producerApp(name: string): QueueTasks {
  return new QueueTasks({
    name,
    brokerUrl: REDIS_URL,
    env: false,
    config: { logsDefaultLevel: "warn" },
  });
}

/** Options of {@linkcode startWorker}. */
export interface WorkerFixtureOptions {
  /** Tasks run at once (config maxTasksProcess; default 4). */
  concurrency?: number;
  /** How long shutdown waits for running tasks (config shutdownGraceMs; default 10 000). */
  graceMs?: number;
  /** maxTime of the fixture's `too_slow` task (default 150). */
  maxTimeMs?: number;
  /** How long to wait for `READY` (default 15 000 ms). */
  readyTimeoutMs?: number;
}

/**
 * Starts tests/e2e/fixtures/worker.ts for app `name` and waits until it prints `READY`. The
 * caller must `kill()` it in a `finally`.
 */
export async function startWorker(
  name: string,
  options: WorkerFixtureOptions = {},
): Promise<SpawnedProcess> {
  const worker = spawnRuntime(WORKER_FIXTURE, {
    env: {
      E2E_APP: name,
      E2E_REDIS_URL: REDIS_URL,
      E2E_CONCURRENCY: String(options.concurrency ?? 4),
      E2E_GRACE_MS: String(options.graceMs ?? 10_000),
      E2E_MAX_TIME_MS: String(options.maxTimeMs ?? 150),
    },
  });
  try {
    await worker.waitForLine(/^READY\b/, options.readyTimeoutMs ?? 15_000);
  } catch (error) {
    await worker.kill();
    throw error;
  }
  return worker;
}

/**
 * Stops a worker fixture with SIGTERM and returns its exit code (it exits 0 after a graceful
 * stop).
 */
export async function stopWorker(
  worker: SpawnedProcess,
  timeoutMs = 10_000,
): Promise<number | null> {
  worker.signal("SIGTERM");
  return await worker.exitCode(timeoutMs);
}

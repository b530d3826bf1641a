/**
 * The producer side of the scenarios, running in the runner process: enqueue a batch as fast as
 * Redis takes it ({@linkcode sendAll}), or enqueue at a steady rate while a fault happens
 * ({@linkcode SteadyProducer}), checking that every failed enqueue is a prompt, clean
 * BackendError and re-sending those afterwards.
 *
 * @module
 */
import { BackendError, type QueueTasks } from "../../mod.ts";
import { sleep } from "./scenario.ts";

/** One task to enqueue: its name and arguments. */
export type TaskSpec = readonly [taskName: string, args: unknown[]];

/**
 * Enqueues every task, `concurrency` calls in flight at a time.
 *
 * @returns The uuids, in the order of `tasks`.
 */
export async function sendAll(
  app: QueueTasks,
  tasks: readonly TaskSpec[],
  concurrency = 200,
): Promise<string[]> {
  const uuids = new Array<string>(tasks.length);
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const i = next++;
      const [name, args] = tasks[i];
      uuids[i] = (await app.addTask(name, args)).uuid;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, lane));
  return uuids;
}

/** Options of {@linkcode SteadyProducer}. */
export interface SteadyProducerOptions {
  /** Tasks to enqueue in all. */
  total: number;
  /** Enqueue calls started per second (each without waiting for the previous ones). */
  perSecond: number;
  /** The task of index i. */
  task(index: number): TaskSpec;
  /** The producer's backendTimeoutMs: an enqueue may not take much longer than twice this. */
  backendTimeoutMs: number;
  /** A secret that must never appear in an error message or stack (the Redis password). */
  secret?: string;
}

/**
 * Enqueues `total` tasks at a steady rate, whatever the backend does. Each call is started on
 * time without waiting for earlier ones, so calls keep coming during an outage; each that
 * rejects must be a {@linkcode BackendError} (code `BACKEND_UNAVAILABLE`, no password in its
 * message) within about `2 × backendTimeoutMs`, and is counted as rejected at enqueue: not sent,
 * not lost. {@linkcode resendRejected} sends those again once the backend is back.
 */
export class SteadyProducer {
  /** Sent tasks: uuid → index. */
  readonly sent: Map<string, number> = new Map();
  /** Indexes whose enqueue rejected and that were not re-sent yet. */
  readonly rejected: number[] = [];
  /** How many enqueue calls rejected, in all. */
  rejections = 0;
  /** Broken expectations by kind: how often, and the first example. */
  readonly #problems = new Map<string, { count: number; example: string }>();
  /** The slowest enqueue call, resolved or rejected, in ms. */
  slowestMs = 0;
  /** The message of the first rejection, as an example. */
  firstRejection: string | undefined;
  readonly #app: QueueTasks;
  readonly #options: SteadyProducerOptions;
  readonly #inFlight = new Set<Promise<void>>();
  /** The uuid each rejected enqueue's BackendError named. */
  readonly #rejectedUuids = new Map<number, string>();
  #issued = 0;

  constructor(app: QueueTasks, options: SteadyProducerOptions) {
    this.#app = app;
    this.#options = options;
  }

  /**
   * Broken expectations (a rejection that is not a BackendError, a password in a message, a
   * slow or hung call), one line per kind with its count and first example.
   */
  get problems(): string[] {
    return [...this.#problems].map(([kind, { count, example }]) =>
      `${count} × ${kind} (first: ${example})`
    );
  }

  /** How many enqueue calls have been started. */
  get issued(): number {
    return this.#issued;
  }

  /** Starts calls at the rate until `total`, then waits for every call to settle. */
  async run(): Promise<void> {
    const { total, perSecond } = this.#options;
    const started = Date.now();
    while (this.#issued < total) {
      const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * perSecond) + 1);
      while (this.#issued < due) this.#enqueue(this.#issued++);
      await sleep(10);
    }
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  /**
   * Sends every rejected task again, under the uuid its BackendError named (as the README says
   * to: a task that was stored all the same is then not stored twice), retrying a call that fails
   * again until `timeoutMs` has passed, `concurrency` calls at a time.
   *
   * @returns How many were re-sent.
   */
  async resendRejected(timeoutMs: number, concurrency = 100): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    const indexes = this.rejected.splice(0);
    let next = 0;
    // As a producer would: a bounded number in flight, and a pause (100 ms doubling to 1 s)
    // before a call that failed again is retried, not a storm of immediate retries.
    const lane = async () => {
      while (next < indexes.length) {
        const index = indexes[next++];
        const [name, args] = this.#options.task(index);
        const uuid = this.#rejectedUuids.get(index);
        for (let pause = 100;; pause = Math.min(2 * pause, 1_000)) {
          try {
            this.sent.set((await this.#app.addTask(name, args, { uuid })).uuid, index);
            break;
          } catch (error) {
            if (!(error instanceof BackendError) || Date.now() > deadline) throw error;
            await sleep(pause);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, indexes.length) }, lane));
    return indexes.length;
  }

  #enqueue(index: number): void {
    const { backendTimeoutMs, secret } = this.#options;
    const [name, args] = this.#options.task(index);
    const started = Date.now();
    // "Must not hang": a call still pending long after its deadline is a problem of its own.
    const hangMs = 3 * backendTimeoutMs + 5_000;
    let hangTimer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<"hung">((resolve) => hangTimer = setTimeout(resolve, hangMs, "hung"));
    const call = this.#app.addTask(name, args).then(
      (job) => ({ uuid: job.uuid, error: undefined }),
      (error: unknown) => ({ uuid: undefined, error }),
    );
    const settled = Promise.race([call, hung]).then((outcome) => {
      clearTimeout(hangTimer);
      const ms = Date.now() - started;
      this.slowestMs = Math.max(this.slowestMs, ms);
      if (outcome === "hung") {
        this.#problem(`addTask pending after ${hangMs} ms (hangs)`, `#${index}`);
        return;
      }
      if (outcome.uuid) {
        this.sent.set(outcome.uuid, index);
        return;
      }
      this.rejections++;
      this.rejected.push(index);
      const error = outcome.error;
      if (error instanceof BackendError && error.uuid) this.#rejectedUuids.set(index, error.uuid);
      const message = (error as Error)?.message ?? String(error);
      this.firstRejection ??= message;
      if (!(error instanceof BackendError) || error.code !== "BACKEND_UNAVAILABLE") {
        this.#problem(
          `addTask rejected with ${(error as Error)?.name}, not BackendError/BACKEND_UNAVAILABLE`,
          `#${index}: ${message}`,
        );
      }
      if (
        secret && (message.includes(secret) || String((error as Error)?.stack).includes(secret))
      ) {
        this.#problem("the error message shows the Redis password", `#${index}`);
      }
      if (ms > 2 * backendTimeoutMs + 1_000) {
        this.#problem(
          `addTask took over 2 × backendTimeoutMs + 1 s (${backendTimeoutMs} ms) to reject`,
          `#${index}: ${ms} ms`,
        );
      }
    });
    this.#inFlight.add(settled);
    void settled.finally(() => this.#inFlight.delete(settled));
  }

  #problem(kind: string, example: string): void {
    const entry = this.#problems.get(kind);
    if (entry) entry.count++;
    else this.#problems.set(kind, { count: 1, example });
  }
}

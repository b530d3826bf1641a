import { test } from "node:test";
import assert from "node:assert/strict";
import { QueueTasks, type TaskRecord } from "../../mod.ts";
import { MemoryBroker } from "../../src/backends/memory/mod.ts";
import type {
  AddOutcome,
  Broker,
  CancelOutcome,
  ComponentContext,
  ExchangeRequest,
  ExchangeResult,
  Lease,
  LeaseRenewal,
  NewFlow,
  NewTask,
  Storage,
} from "../../src/ports/mod.ts";
import { uniqueAppName } from "../support/e2e_env.ts";

/**
 * A MemoryBroker whose claiming exchanges wait for `release()`: it holds a worker's claim "in
 * flight" (as a slow network does) while the test stops the worker and enqueues a task.
 */
class HeldClaimBroker implements Broker {
  readonly inner: MemoryBroker;
  #held: Array<() => void> = [];
  #onHeld: Array<() => void> = [];

  constructor(name: string) {
    this.inner = new MemoryBroker({ name });
  }

  get name(): string {
    return this.inner.name;
  }

  get storage(): Storage {
    return this.inner.storage;
  }

  /** Resolves once a claiming exchange is being held. */
  claimHeld(): Promise<void> {
    if (this.#held.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.#onHeld.push(resolve));
  }

  /** Lets the held exchanges through (and every later one). */
  release(): void {
    const held = this.#held;
    this.#held = [];
    this.#holding = false;
    for (const go of held) go();
  }

  #holding = true;

  async exchange(request: ExchangeRequest): Promise<ExchangeResult> {
    if (this.#holding && request.want > 0) {
      await new Promise<void>((resolve) => {
        this.#held.push(resolve);
        for (const notify of this.#onHeld.splice(0)) notify();
      });
    }
    return await this.inner.exchange(request);
  }

  start(context: ComponentContext): Promise<void> {
    return this.inner.start(context);
  }
  stop(): Promise<void> {
    return this.inner.stop();
  }
  add(task: NewTask): Promise<AddOutcome | void> {
    return this.inner.add(task);
  }
  addBulk(tasks: NewTask[]): Promise<void> {
    return this.inner.addBulk(tasks);
  }
  addFlow(flow: NewFlow): Promise<void> {
    return this.inner.addFlow(flow);
  }
  extendLeases(workerId: string, leases: Lease[], leaseMs: number): Promise<LeaseRenewal> {
    return this.inner.extendLeases(workerId, leases, leaseMs);
  }
  cancel(uuid: string, reason: string, resultTtlMs: number): Promise<CancelOutcome> {
    return this.inner.cancel(uuid, reason, resultTtlMs);
  }
  watchCancellations(listener: (uuid: string, reason: string) => void): Promise<() => void> {
    return this.inner.watchCancellations(listener);
  }
  reportProgress(
    workerId: string,
    uuid: string,
    deliveries: number,
    progress: string,
  ): Promise<boolean> {
    return this.inner.reportProgress(workerId, uuid, deliveries, progress);
  }
  async waitForTasks(
    timeoutMs: number,
    signal: AbortSignal,
    claim?: ExchangeRequest,
  ): Promise<ExchangeResult | undefined> {
    await this.inner.waitForTasks(timeoutMs, signal);
    // A claim riding on the wake-up goes through exchange(), where it can be held too.
    return claim && !signal.aborted ? await this.exchange(claim) : undefined;
  }
  get(uuid: string): Promise<TaskRecord | undefined> {
    return this.inner.get(uuid);
  }
  flushAll(): Promise<void> {
    return this.inner.flushAll();
  }
}

// Found by the graceful-shutdown e2e test, where it shows up now and then under load (the
// worker's last claim reaches Redis after a task enqueued after SIGTERM). Made deterministic
// here by holding the claim.
test(
  "a stopping worker does not run a task that its claim in flight returns after stop() began",
  { timeout: 30_000 },
  async () => {
    const broker = new HeldClaimBroker(uniqueAppName("stop-during-claim"));
    const app = new QueueTasks({ broker, env: false, config: { logsDefaultLevel: "silent" } });
    const add = app.task("add", (a: number, b: number) => a + b);
    try {
      await app.start();
      // The idle worker's first claim is in flight (held) ...
      await broker.claimHeld();
      // ... when the worker is told to stop: from now on it takes no tasks.
      const stopping = app.stop({ graceMs: 2_000 });
      const late = await add.addTask(1, 1);
      // The claim completes after the task was enqueued, as it does over a slow network.
      broker.release();
      await stopping;

      const record = await late.get();
      assert.equal(
        record?.status,
        "new",
        `a task enqueued after stop() began was run by the stopping worker: ${
          JSON.stringify(record)
        }`,
      );
    } finally {
      broker.release();
      await app.flushAll();
      await app.stop();
    }
  },
);

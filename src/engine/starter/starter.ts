import type { Broker, ComponentContext } from "../../ports/broker.ts";
import type { Worker } from "../../ports/worker.ts";
import { type RunForeverOptions, runUntilSignal } from "./run_until_signal.ts";

export type { RunForeverOptions } from "./run_until_signal.ts";

/**
 * Starts and stops the components in order: the Broker (which starts its Storage, which starts
 * its GlobalConfig), then the Worker; on stop, the Worker first (it drains running tasks and
 * stores their results), then the Broker, Storage and GlobalConfig.
 *
 * `runForever` adds signal handling: on SIGINT or SIGTERM the worker stops taking tasks, lets
 * running ones finish within `shutdownGraceMs`, gives unfinished ones back to the queue, and the
 * process exits with code 0. A second signal exits at once with code 1.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { MemoryBroker } from "@qtasks/qtasks/memory";
 * import { AsyncWorker, Starter } from "@qtasks/qtasks/ports";
 *
 * const broker = new MemoryBroker({ name: "demo" });
 * const worker = new AsyncWorker({ broker });
 * const app = new QueueTasks({ name: "demo", broker, worker, starter: new Starter({ broker, worker }) });
 * await app.start();
 * await app.stop();
 * ```
 */
export class Starter {
  /** The broker it starts. */
  readonly broker: Broker;
  /** The worker it starts, if any (a producer-only app has none running). */
  readonly worker: Worker | undefined;
  #started = false;
  #starting: Promise<void> | undefined;

  /**
   * Creates a Starter.
   *
   * @param options The broker and the worker.
   */
  constructor(options: { broker: Broker; worker?: Worker }) {
    this.broker = options.broker;
    this.worker = options.worker;
  }

  /** Starts the broker chain, then the worker. */
  start(context: ComponentContext): Promise<void> {
    this.#starting ??= this.#start(context).finally(() => this.#starting = undefined);
    return this.#starting;
  }

  async #start(context: ComponentContext): Promise<void> {
    if (this.#started) return;
    context.events?.emit("starting", { appName: context.appName ?? "" });
    await context.plugins?.start("app");
    try {
      await this.broker.start(context);
      this.#started = true;
      await this.worker?.start();
      await context.plugins?.run("starter_start", { appName: context.appName ?? "" });
    } catch (error) {
      if (this.#started) await this.broker.stop();
      this.#started = false;
      await context.plugins?.stop("app");
      throw error;
    }
  }

  /**
   * Stops the worker gracefully, then the broker chain. Safe to call at any time; a stop during
   * start waits for the start to finish first, unless the broker is still connecting (Redis
   * down): then no worker runs, and it resolves at once, the rest of the stop running in the
   * background once the connection attempt settles.
   */
  async stop(options: { graceMs?: number } = {}, context?: ComponentContext): Promise<void> {
    // Synchronously, a running worker stops taking tasks before anything else runs.
    const starting = this.#starting;
    const stoppingWorker = this.worker?.stop(options);
    const appName = context?.appName ?? "";
    context?.events?.emit("stopping", { appName });
    await context?.plugins?.run("qtasks_stop", { appName });
    await stoppingWorker;
    if (starting && !this.#started) {
      // The broker is still connecting (Redis down?): no worker runs yet, so there is nothing to
      // drain, and waiting for the connection attempt would ignore the stop for seconds. The
      // rest of the stop runs once that attempt settles.
      void starting.catch(() => {}).then(() => this.#finishStop(options, context, true));
      return;
    }
    if (starting) {
      await starting.catch(() => {});
      await this.worker?.stop(options); // a worker that finished starting meanwhile
    }
    await this.#finishStop(options, context, false);
  }

  async #finishStop(
    options: { graceMs?: number },
    context: ComponentContext | undefined,
    afterStart: boolean,
  ): Promise<void> {
    const appName = context?.appName ?? "";
    try {
      if (afterStart) await this.worker?.stop(options); // it started after all: stop it too
      await this.broker.stop();
    } catch (error) {
      if (!afterStart) throw error;
      context?.logger.warn(`Stop after an abandoned start failed: ${(error as Error).message}`);
      return;
    }
    this.#started = false;
    await context?.plugins?.run("starter_stop", { appName });
    await context?.plugins?.stop("app");
  }

  /**
   * Starts, waits for a shutdown signal, stops gracefully, and exits with code 0 (unless
   * `exit: false`).
   */
  runForever(context: ComponentContext, options: RunForeverOptions = {}): Promise<void> {
    return runUntilSignal(
      { start: () => this.start(context), stop: () => this.stop({}, context) },
      context.logger,
      options,
    );
  }
}

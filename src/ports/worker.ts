import type { AppEvents } from "../plugins/app_events.ts";
import type { PluginHub } from "../plugins/plugin_hub.ts";
import type { Broker } from "./broker.ts";
import type { QueueConfig } from "../model/queue_config.ts";
import type { Logger } from "../model/logger.ts";
import type { TaskDefinition } from "./task_executor.ts";
import type { TaskExecutor } from "./task_executor.ts";
import type { TaskMiddleware } from "../plugins/task_middleware.ts";

/**
 * What an app gives its worker: the registered tasks, the config and the logger, and its events,
 * plugins, executor and app-wide middlewares.
 *
 * @example
 * ```ts
 * import { createLogger, parseQueueConfig } from "@qtasks/qtasks";
 * import type { WorkerHost } from "@qtasks/qtasks/ports";
 *
 * const host: WorkerHost = {
 *   name: "demo",
 *   tasks: new Map(),
 *   config: parseQueueConfig({}),
 *   logger: createLogger("info"),
 * };
 * ```
 */
export interface WorkerHost {
  /** The app name. */
  readonly name: string;
  /** The registered tasks by name. */
  readonly tasks: ReadonlyMap<string, TaskDefinition>;
  /** The app's config. */
  readonly config: QueueConfig;
  /** Where to log. */
  readonly logger: Logger;
  /** The app's events: the worker reports itself and its tasks there. */
  readonly events?: AppEvents;
  /** The app's plugins: the worker runs its triggers and starts and stops its plugins. */
  readonly plugins?: PluginHub;
  /** The app's executor: runs tasks that have none of their own when the worker has none either. */
  readonly executor?: TaskExecutor;
  /** App-wide "before" middlewares, outermost first: they wrap every task's own. */
  readonly middlewaresBefore?: readonly TaskMiddleware[];
  /** App-wide "after" middlewares: they run before every task's own. */
  readonly middlewaresAfter?: readonly TaskMiddleware[];
}

/**
 * Options of {@linkcode Worker.stop}.
 *
 * @example
 * ```ts
 * import type { WorkerStopOptions } from "@qtasks/qtasks/ports";
 *
 * const options: WorkerStopOptions = { graceMs: 10_000 };
 * ```
 */
export interface WorkerStopOptions {
  /** How long to wait for running tasks (default: the config's `shutdownGraceMs`). */
  graceMs?: number;
}

/**
 * The Worker port: takes tasks from the Broker and runs them. Implementations:
 * {@linkcode AsyncWorker}.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { MemoryBroker } from "@qtasks/qtasks/memory";
 * import { AsyncWorker, type Worker } from "@qtasks/qtasks/ports";
 *
 * const broker = new MemoryBroker({ name: "demo" });
 * const worker: Worker = new AsyncWorker({ broker });
 * const app = new QueueTasks({ name: "demo", broker, worker });
 * ```
 */
export interface Worker {
  /** The broker it takes tasks from. */
  readonly broker: Broker;
  /** Whether it is taking tasks. */
  readonly running: boolean;
  /** Called by the app that owns it, before start. */
  bind(host: WorkerHost): void;
  /** Starts taking and running tasks. The broker must be started. */
  start(): Promise<void>;
  /**
   * Stops taking tasks, lets running ones finish within the grace period, gives the rest back to
   * the queue, and settles everything with the broker.
   */
  stop(options?: WorkerStopOptions): Promise<void>;
}

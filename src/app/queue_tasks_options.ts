import type { WorkerQueue } from "../model/queue_name.ts";
import type { RedisConnectionOptions } from "../backends/redis/redis_connection.ts";
import type { Starter } from "../engine/starter/starter.ts";
import type { Logger } from "../model/logger.ts";
import type { QueueConfigInput } from "../model/queue_config.ts";
import type { Broker } from "../ports/broker.ts";
import type { TaskExecutor } from "../ports/task_executor.ts";
import type { Worker } from "../ports/worker.ts";

/**
 * Options of {@linkcode QueueTasks}.
 *
 * @example
 * ```ts
 * import type { QueueTasksOptions } from "@qtasks/qtasks";
 *
 * const options: QueueTasksOptions = {
 *   name: "shop",
 *   brokerUrl: "redis://127.0.0.1:6379/0",
 *   config: { maxTasksProcess: 50 },
 * };
 * ```
 */
export interface QueueTasksOptions {
  /** The app name: the namespace of every Redis key (default `QueueTasks`). No `{` or `}`. */
  name?: string;
  /**
   * `redis://` or `rediss://` URL: use the Redis backend; `postgres://` or `postgresql://` (an
   * optional `?schema=name`, default `qtasks`): the PostgreSQL backend, loaded on first use (see
   * docs/postgres.md). Without the key (and without `broker`),
   * the `QTASKS_BROKER_URL` variable, else the in-memory backend (this process only). A key that
   * is present but empty or `undefined` (`brokerUrl: process.env.REDIS_URL` with the variable
   * unset) is a `ConfigError`, never a silent switch to memory.
   */
  brokerUrl?: string;
  /** With `brokerUrl`: TLS settings (`rediss://` with your own CA) or another client factory. */
  redis?: Omit<RedisConnectionOptions, "url" | "timeoutMs">;
  /** A broker you assembled (Redis or memory, or your own). */
  broker?: Broker;
  /** The worker (default an {@linkcode AsyncWorker} on the broker). */
  worker?: Worker;
  /**
   * The queues the default worker takes tasks from, in order, or with weights (default:
   * `["default"]`); see `AsyncWorkerOptions.queues` and docs/flow-control.md. Not with `worker`
   * (give that worker its own `queues`).
   */
  queues?: Array<string | WorkerQueue>;
  /** The starter (default one over the broker and worker). */
  starter?: Starter;
  /** Settings; anything unset comes from `QTASKS_*` variables, then the defaults. */
  config?: QueueConfigInput;
  /** Where to log (default: the console, at `logsDefaultLevel`). */
  logger?: Logger;
  /** Read `QTASKS_*` environment variables (default `true`). */
  env?: boolean;
  /**
   * Runs every task that has no executor of its own, unless the worker was given one (default
   * {@linkcode AsyncTaskExecutor}).
   */
  executor?: TaskExecutor;
}

/**
 * Options of {@linkcode QueueTasks.ping}.
 *
 * @example
 * ```ts
 * import type { PingOptions } from "@qtasks/qtasks";
 *
 * const options: PingOptions = { server: false };
 * ```
 */
export interface PingOptions {
  /**
   * `true` (default): is a worker of this app running (its heartbeat is live)? `false`: does the
   * backend answer?
   */
  server?: boolean;
}

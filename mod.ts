/**
 * QTasks for TypeScript: a task queue for Deno, Bun and Node. Register tasks on an app,
 * enqueue them from anywhere, run them on workers on any number of machines, and await their
 * results. Redis in production; an in-memory backend for tests, demos and one process.
 *
 * This module is what an app author needs: the app and its task handles, results, flows, the
 * worker pool, the timer, task options and context, errors, plugins and middlewares, app events,
 * the logger, the config and the app's statistics. The rest is in subpaths:
 *
 * - `@qtasks/qtasks/redis`: the Redis backend assembled by hand (`RedisBroker`, `RedisStorage`,
 *   `RedisGlobalConfig`), its connection and client.
 * - `@qtasks/qtasks/memory`: the in-memory backend assembled by hand.
 * - `@qtasks/qtasks/ports`: the interfaces behind the app (Broker, Storage, GlobalConfig, Worker,
 *   TaskExecutor), the messages and the record codec, the trigger table: for people who
 *   implement a backend, an executor or a plugin host, or assemble the components by hand.
 * - `@qtasks/qtasks/runtime`: the Runtime and ThreadFactory ports, their Deno, Bun and Node
 *   adapters, and `getRuntime()`.
 * - `@qtasks/qtasks/cli`: the `qtasks` command.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "quickstart" });
 * const add = app.task("add", (a: number, b: number) => a + b);
 * await app.start();
 * console.log(await (await add.addTask(1, 2)).value()); // 3
 * await app.stop();
 * ```
 *
 * @module
 */
import "./src/runtime/adapters.ts";

// The app, its handles, results and flows.
export { QueueTasks } from "./src/app/queue_tasks.ts";
export type { PingOptions, QueueTasksOptions } from "./src/app/queue_tasks.ts";
export type { AddTaskOptions, TaskHandle } from "./src/app/task_handle.ts";
export { Router } from "./src/app/router.ts";
export { sharedTask } from "./src/app/shared_task.ts";
export type { SharedTaskHandle } from "./src/app/shared_task.ts";
export { AsyncResult } from "./src/app/async_result.ts";
export type { ResultOptions } from "./src/app/async_result.ts";
export { Chain } from "./src/app/chain.ts";
export { Group } from "./src/app/group.ts";
export type { GroupResults } from "./src/app/group.ts";
export type { TaskSignature } from "./src/app/task_signature.ts";
export type { FlowOptions } from "./src/app/flow_spec.ts";

// Where tasks run: the worker pool (threads), a task's own thread pool, how the app runs, and
// the runtime it runs on (Deno, Bun or Node).
export { WorkerPool } from "./src/engine/worker/worker_pool.ts";
export type { WorkerPoolOptions } from "./src/engine/worker/worker_pool.ts";
export { ThreadPool } from "./src/engine/executor/thread_pool.ts";
export type { ThreadPoolOptions } from "./src/engine/executor/thread_pool.ts";
export { isPoolThread } from "./src/engine/executor/pool_thread_flag.ts";
export type { RunForeverOptions } from "./src/engine/starter/run_until_signal.ts";
export { getRuntime } from "./src/ports/runtime.ts";

// Periodic tasks.
export { Timer } from "./src/timer/timer.ts";
export type {
  CatchUp,
  ScheduleInfo,
  ScheduleOptions,
  TimerFire,
  TimerOptions,
} from "./src/timer/timer.ts";

// Tasks: options, context, dependencies, state, records.
export type { TaskOptions } from "./src/ports/task_executor.ts";
export type { TaskContext } from "./src/ports/task_context.ts";
export { depends } from "./src/model/depends.ts";
export type { Dependency, DependsOptions } from "./src/model/depends.ts";
export { defineState } from "./src/model/state.ts";
export type { State } from "./src/model/state.ts";
export { TASK_STATUSES } from "./src/model/task_status.ts";
export type { TaskStatus } from "./src/model/task_status.ts";
export type { TaskErrorInfo, TaskRecord } from "./src/model/task_record.ts";

// Errors: every condition a caller can meet, each with a stable `code`.
export { QTasksError } from "./src/model/errors/qtasks_error.ts";
export { BackendError } from "./src/model/errors/backend_error.ts";
export { ConfigError } from "./src/model/errors/config_error.ts";
export { DuplicateTaskError } from "./src/model/errors/duplicate_task_error.ts";
export { InvalidPayloadError } from "./src/model/errors/invalid_payload_error.ts";
export { ResultTimeoutError } from "./src/model/errors/result_timeout_error.ts";
export { TaskCancelError } from "./src/model/errors/task_cancel_error.ts";
export { TaskFailedError } from "./src/model/errors/task_failed_error.ts";
export { TaskNotFoundError } from "./src/model/errors/task_not_found_error.ts";
export { TaskPluginTriggerError } from "./src/model/errors/task_plugin_trigger_error.ts";
export { TaskTimeoutError } from "./src/model/errors/task_timeout_error.ts";
export { ThreadCrashError } from "./src/model/errors/thread_crash_error.ts";
export { UnknownTaskError } from "./src/model/errors/unknown_task_error.ts";
export { UnrecoverableError } from "./src/model/errors/unrecoverable_error.ts";
export { ValidationError } from "./src/model/errors/validation_error.ts";
export type { ValidationIssue } from "./src/model/errors/validation_error.ts";
export { LeaseLostError } from "./src/model/errors/lease_lost_error.ts";
export { WorkerShutdownError } from "./src/model/errors/worker_shutdown_error.ts";
export { DeliveryLimitError } from "./src/model/errors/delivery_limit_error.ts";
export { TaskStateError } from "./src/model/errors/task_state_error.ts";

// Plugins, middlewares and app events.
export type { AddPluginOptions, Plugin, TriggerHandlers } from "./src/plugins/plugin.ts";
export type { TriggerArgs, TriggerName } from "./src/plugins/triggers.ts";
export type { TaskCall, TaskMiddleware } from "./src/plugins/task_middleware.ts";
export { AppEvents } from "./src/plugins/app_events.ts";
export type { AppEventMap, AppEventName } from "./src/plugins/app_events.ts";

// Logging and config.
export { createLogger } from "./src/model/logger.ts";
export type { Logger, LogLevel } from "./src/model/logger.ts";
export { parseQueueConfig } from "./src/model/queue_config.ts";
export type { QueueConfig, QueueConfigInput } from "./src/model/queue_config.ts";

// What the app is doing.
export { readAppStats } from "./src/app/app_stats.ts";
export type { AppStats } from "./src/app/app_stats.ts";
export { inspectApp } from "./src/app/inspect_app.ts";
export type { AppInfo, TaskInfo } from "./src/app/inspect_app.ts";

/**
 * QTasks for TypeScript: a task queue for Deno, Bun and Node. Register tasks on an app,
 * enqueue them from anywhere, run them on workers on any number of machines, and await their
 * results. Redis in production; an in-memory backend for tests, demos and one process.
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

export { QueueTasks } from "./src/app/queue_tasks.ts";
export type { PingOptions, QueueTasksOptions } from "./src/app/queue_tasks.ts";
export { AsyncResult } from "./src/app/async_result.ts";
export type { AsyncResultControl, ResultOptions } from "./src/app/async_result.ts";
export type { AddTaskOptions, TaskHandle } from "./src/app/task_handle.ts";
export { Router } from "./src/app/router.ts";
export type { HandleKinds, TaskRegistrar, TypedOptions } from "./src/app/task_registrar.ts";
export type { BindableTaskHandle } from "./src/app/detached_task.ts";
export { sharedTask } from "./src/app/shared_task.ts";
export type { SharedTaskHandle } from "./src/app/shared_task.ts";
export { Chain } from "./src/app/chain.ts";
export { Group } from "./src/app/group.ts";
export type { GroupResults } from "./src/app/group.ts";
export type { TaskSignature } from "./src/app/task_signature.ts";
export type { FlowOptions, FlowSpec, FlowSpecStep } from "./src/app/flow_spec.ts";
export { isGroupStep, parseFlowLink, stepArgs } from "./src/model/flow_link.ts";
export type { FlowGroupStep, FlowLink, FlowStep, FlowTaskStep } from "./src/model/flow_link.ts";

export type {
  Broker,
  CancelOutcome,
  ClaimedTask,
  ComponentContext,
  ExchangeRequest,
  ExchangeResult,
  Lease,
  LeaseRenewal,
  NewFlow,
  NewFlowRecord,
  NewTask,
  Settlement,
} from "./src/ports/broker.ts";
export { MemoryBroker } from "./src/backends/memory/memory_broker.ts";
export { RedisBroker } from "./src/backends/redis/redis_broker.ts";

export type { GetAllOptions, Storage, WaitForStatusOptions } from "./src/ports/storage.ts";
export { MemoryStorage } from "./src/backends/memory/memory_storage.ts";
export { RedisStorage } from "./src/backends/redis/redis_storage.ts";
export { waitForRecord } from "./src/ports/wait_for_record.ts";
export type { RecordSource } from "./src/ports/wait_for_record.ts";

export type { GlobalConfig } from "./src/ports/global_config.ts";
export { MemoryGlobalConfig } from "./src/backends/memory/memory_global_config.ts";
export { pairsToObject, RedisGlobalConfig } from "./src/backends/redis/redis_global_config.ts";
export type { RedisComponentOptions } from "./src/backends/redis/redis_global_config.ts";

export type { Worker, WorkerHost, WorkerStopOptions } from "./src/ports/worker.ts";
export { AsyncWorker } from "./src/engine/worker/async_worker.ts";
export type { AsyncWorkerOptions } from "./src/engine/worker/async_worker.ts";
export { ThreadPool } from "./src/engine/executor/thread_pool.ts";
export type { ThreadPoolOptions } from "./src/engine/executor/thread_pool.ts";
export { WorkerPool } from "./src/engine/worker/worker_pool.ts";
export type { WorkerPoolOptions } from "./src/engine/worker/worker_pool.ts";
export { isPoolThread } from "./src/engine/executor/pool_thread_flag.ts";

export type { TaskExecutor, TaskOutcome, TaskRun } from "./src/ports/task_executor.ts";
export { AsyncTaskExecutor } from "./src/engine/executor/async_task_executor.ts";
export type { TaskCall, TaskMiddleware } from "./src/plugins/task_middleware.ts";

export { Starter } from "./src/engine/starter/starter.ts";
export type { RunForeverOptions } from "./src/engine/starter/starter.ts";
export { runUntilSignal } from "./src/engine/starter/run_until_signal.ts";
export type { Runnable } from "./src/engine/starter/run_until_signal.ts";

export { Timer } from "./src/timer/timer.ts";
export type {
  CatchUp,
  ScheduleInfo,
  ScheduleOptions,
  TimerFire,
  TimerOptions,
} from "./src/timer/timer.ts";
export { systemClock } from "./src/ports/timer_clock.ts";
export type { TimerClock } from "./src/ports/timer_clock.ts";
export { scheduleUuid } from "./src/timer/schedule_uuid.ts";

export type { WorkerInfo, WorkerReport, WorkerStats } from "./src/model/worker_report.ts";
export type { QueueStats } from "./src/model/queue_stats.ts";
export { readAppStats } from "./src/app/app_stats.ts";
export type { AppStats } from "./src/app/app_stats.ts";
export { inspectApp, inspectTask } from "./src/app/inspect_app.ts";
export type { AppInfo, TaskInfo } from "./src/app/inspect_app.ts";

export { parseQueueConfig } from "./src/model/queue_config.ts";
export type { QueueConfig, QueueConfigInput } from "./src/model/queue_config.ts";

export { createLogger } from "./src/model/logger.ts";
export type { Logger, LogLevel } from "./src/model/logger.ts";

export { isTaskStatus, TASK_STATUSES } from "./src/model/task_status.ts";
export type { TaskStatus } from "./src/model/task_status.ts";
export type { TaskErrorInfo, TaskRecord } from "./src/model/task_record.ts";
export { TASK_OPTION_NAMES } from "./src/app/task_options.ts";
export { DEPENDENCY_SCOPES, depends } from "./src/model/depends.ts";
export type { EchoInjectTaskFn, EchoTaskFn, InjectTaskFn, TaskFn } from "./src/ports/task_fn.ts";
export type {
  Dependency,
  DependencyScope,
  DependsOptions,
  Injected,
  OpenedDependency,
  TaskDependencies,
} from "./src/model/depends.ts";
export { executeInjected } from "./src/engine/executor/dependency_resolver.ts";
export { defineState } from "./src/model/state.ts";
export type { OptionalKeys, State } from "./src/model/state.ts";
export type { TaskDefinition, TaskOptions } from "./src/ports/task_executor.ts";
export { createTaskContext } from "./src/ports/task_context.ts";
export type { TaskContext, TaskContextInit, TaskServices } from "./src/ports/task_context.ts";
export type { GeneratorTaskResult, TaskResult, YieldOf } from "./src/model/task_result.ts";
export { isArgsSchema, parseArgs } from "./src/model/task_schema.ts";
export type {
  ArgsSchema,
  SchemaInput,
  SchemaOutput,
  StandardSchemaIssue,
  StandardSchemaResult,
} from "./src/model/task_schema.ts";
export {
  decodeTaskRecord,
  describeError,
  encodeJson,
  errorFields,
  isReservedField,
  toUnixSeconds,
} from "./src/model/task_codec.ts";
export type { TaskFields } from "./src/model/task_codec.ts";
export { backoffDelay, DEFAULT_BACKOFF, isRetryable } from "./src/model/retry_policy.ts";
export type { BackoffOptions } from "./src/model/retry_policy.ts";

export { getRuntime, registerRuntime, setRuntime } from "./src/ports/runtime.ts";
export type { Runtime, ShutdownSignal } from "./src/ports/runtime.ts";
export { denoRuntime } from "./src/runtime/deno_runtime.ts";
export { nodeRuntime } from "./src/runtime/node_runtime.ts";
export {
  getThreadFactory,
  registerThreadFactory,
  setThreadFactory,
} from "./src/ports/thread_factory.ts";
export type {
  ThreadFactory,
  ThreadHandle,
  ThreadListener,
  ThreadPort,
} from "./src/ports/thread_factory.ts";
export { webThreadFactory } from "./src/runtime/web_threads.ts";
export { nodeThreadFactory } from "./src/runtime/node_threads.ts";

export { RedisConnection } from "./src/backends/redis/redis_connection.ts";
export type { RedisConnectionOptions } from "./src/backends/redis/redis_connection.ts";
export { RedisOfflineError } from "./src/backends/redis/redis_client.ts";
export type { RedisClient, RedisReply } from "./src/backends/redis/redis_client.ts";
export { createNodeRedisClient } from "./src/backends/redis/node_redis_client.ts";
export type { NodeRedisClientOptions } from "./src/backends/redis/node_redis_client.ts";
export { RedisScript } from "./src/backends/redis/redis_script.ts";
export { RedisReplyError } from "./src/backends/redis/redis_reply_error.ts";
export { redisKeys } from "./src/backends/redis/redis_keys.ts";
export type { RedisKeys } from "./src/backends/redis/redis_keys.ts";
export { redactUrl } from "./src/backends/redis/redact_url.ts";

export { PriorityHeap } from "./src/backends/memory/_priority_heap.ts";

export { QTasksError } from "./src/model/errors/qtasks_error.ts";
export { BackendError } from "./src/model/errors/backend_error.ts";
export { ConfigError } from "./src/model/errors/config_error.ts";
export { DuplicateTaskError } from "./src/model/errors/duplicate_task_error.ts";
export { InvalidPayloadError } from "./src/model/errors/invalid_payload_error.ts";
export { ResultTimeoutError } from "./src/model/errors/result_timeout_error.ts";
export { TaskCancelError } from "./src/model/errors/task_cancel_error.ts";
export { TaskFailedError } from "./src/model/errors/task_failed_error.ts";
export { TaskTimeoutError } from "./src/model/errors/task_timeout_error.ts";
export { ThreadCrashError } from "./src/model/errors/thread_crash_error.ts";
export { TaskPluginTriggerError } from "./src/model/errors/task_plugin_trigger_error.ts";
export { UnknownTaskError } from "./src/model/errors/unknown_task_error.ts";
export { ValidationError } from "./src/model/errors/validation_error.ts";
export type { ValidationIssue } from "./src/model/errors/validation_error.ts";
export { UnrecoverableError } from "./src/model/errors/unrecoverable_error.ts";
export { AppEvents } from "./src/plugins/app_events.ts";
export type { AppEventMap, AppEventName, TaskEventBase } from "./src/plugins/app_events.ts";
export { PluginHub } from "./src/plugins/plugin_hub.ts";
export { ComponentPlugins } from "./src/engine/triggers/component_plugins.ts";
export type { AddPluginOptions, Plugin, TriggerHandlers } from "./src/plugins/plugin.ts";
export { TRIGGERS } from "./src/plugins/triggers.ts";
export type {
  PluginComponent,
  TriggerArgs,
  TriggerInfo,
  TriggerMap,
  TriggerName,
  TriggerResult,
} from "./src/plugins/triggers.ts";

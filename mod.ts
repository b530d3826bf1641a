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
export { Chain } from "./src/flow/chain.ts";
export { Group } from "./src/flow/group.ts";
export type { GroupResults } from "./src/flow/group.ts";
export type { TaskSignature } from "./src/flow/task_signature.ts";
export type { FlowOptions, FlowSpec, FlowSpecStep } from "./src/flow/flow_spec.ts";
export { isGroupStep, parseFlowLink, stepArgs } from "./src/flow/flow_link.ts";
export type { FlowGroupStep, FlowLink, FlowStep, FlowTaskStep } from "./src/flow/flow_link.ts";

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
} from "./src/broker/broker.ts";
export { MemoryBroker } from "./src/broker/memory_broker.ts";
export { RedisBroker } from "./src/broker/redis_broker.ts";
export {
  addHeard,
  afterAdd,
  afterExchange,
  beforeAdd,
  beforeExchange,
  exchangeHeard,
} from "./src/broker/broker_triggers.ts";

export type { GetAllOptions, Storage, WaitForStatusOptions } from "./src/storage/storage.ts";
export { MemoryStorage } from "./src/storage/memory_storage.ts";
export { RedisStorage } from "./src/storage/redis_storage.ts";
export { waitForRecord } from "./src/storage/wait_for_record.ts";
export type { RecordSource } from "./src/storage/wait_for_record.ts";

export type { GlobalConfig } from "./src/global_config/global_config.ts";
export { MemoryGlobalConfig } from "./src/global_config/memory_global_config.ts";
export { pairsToObject, RedisGlobalConfig } from "./src/global_config/redis_global_config.ts";
export type { RedisComponentOptions } from "./src/global_config/redis_global_config.ts";

export type { Worker, WorkerHost, WorkerStopOptions } from "./src/worker/worker.ts";
export { AsyncWorker } from "./src/worker/async_worker.ts";
export type { AsyncWorkerOptions } from "./src/worker/async_worker.ts";
export { ThreadPool } from "./src/worker/thread_pool.ts";
export type { ThreadPoolOptions } from "./src/worker/thread_pool.ts";
export { WorkerPool } from "./src/worker/worker_pool.ts";
export type { WorkerPoolOptions } from "./src/worker/worker_pool.ts";
export { isPoolThread } from "./src/worker/pool_thread_flag.ts";

export type { TaskExecutor, TaskOutcome, TaskRun } from "./src/executor/task_executor.ts";
export { AsyncTaskExecutor } from "./src/executor/async_task_executor.ts";
export type { TaskCall, TaskMiddleware } from "./src/executor/task_middleware.ts";

export { Starter } from "./src/starter/starter.ts";
export type { RunForeverOptions } from "./src/starter/starter.ts";
export { runUntilSignal } from "./src/starter/run_until_signal.ts";
export type { Runnable } from "./src/starter/run_until_signal.ts";

export { Timer } from "./src/timer/timer.ts";
export type {
  CatchUp,
  ScheduleInfo,
  ScheduleOptions,
  TimerFire,
  TimerOptions,
} from "./src/timer/timer.ts";
export { systemClock } from "./src/timer/timer_clock.ts";
export type { TimerClock } from "./src/timer/timer_clock.ts";
export { scheduleUuid } from "./src/timer/schedule_uuid.ts";

export type { WorkerInfo, WorkerReport, WorkerStats } from "./src/stats/worker_report.ts";
export type { QueueStats } from "./src/stats/queue_stats.ts";
export { readAppStats } from "./src/stats/app_stats.ts";
export type { AppStats } from "./src/stats/app_stats.ts";
export { inspectApp, inspectTask } from "./src/stats/inspect_app.ts";
export type { AppInfo, TaskInfo } from "./src/stats/inspect_app.ts";

export { parseQueueConfig } from "./src/config/queue_config.ts";
export type { QueueConfig, QueueConfigInput } from "./src/config/queue_config.ts";

export { createLogger } from "./src/logging/logger.ts";
export type { Logger, LogLevel } from "./src/logging/logger.ts";

export { isTaskStatus, TASK_STATUSES } from "./src/task/task_status.ts";
export type { TaskStatus } from "./src/task/task_status.ts";
export type { TaskErrorInfo, TaskRecord } from "./src/task/task_record.ts";
export { TASK_OPTION_NAMES } from "./src/task/task_options.ts";
export { DEPENDENCY_SCOPES, depends } from "./src/task/depends.ts";
export type { EchoInjectTaskFn, EchoTaskFn, InjectTaskFn, TaskFn } from "./src/task/task_fn.ts";
export type {
  Dependency,
  DependencyScope,
  DependsOptions,
  Injected,
  OpenedDependency,
  TaskDependencies,
} from "./src/task/depends.ts";
export { executeInjected } from "./src/task/dependency_resolver.ts";
export { defineState } from "./src/task/state.ts";
export type { OptionalKeys, State } from "./src/task/state.ts";
export type { TaskDefinition, TaskOptions } from "./src/task/task_definition.ts";
export { createTaskContext } from "./src/task/task_context.ts";
export type { TaskContext, TaskContextInit, TaskServices } from "./src/task/task_context.ts";
export type { GeneratorTaskResult, TaskResult, YieldOf } from "./src/task/task_result.ts";
export { isArgsSchema, parseArgs } from "./src/task/task_schema.ts";
export type {
  ArgsSchema,
  SchemaInput,
  SchemaOutput,
  StandardSchemaIssue,
  StandardSchemaResult,
} from "./src/task/task_schema.ts";
export {
  decodeTaskRecord,
  describeError,
  encodeJson,
  errorFields,
  isReservedField,
  toUnixSeconds,
} from "./src/task/task_codec.ts";
export type { TaskFields } from "./src/task/task_codec.ts";
export { backoffDelay, DEFAULT_BACKOFF, isRetryable } from "./src/task/retry_policy.ts";
export type { BackoffOptions } from "./src/task/retry_policy.ts";

export { getRuntime, registerRuntime, setRuntime } from "./src/runtime/runtime.ts";
export type { Runtime, ShutdownSignal } from "./src/runtime/runtime.ts";
export { denoRuntime } from "./src/runtime/deno_runtime.ts";
export { nodeRuntime } from "./src/runtime/node_runtime.ts";
export {
  getThreadFactory,
  registerThreadFactory,
  setThreadFactory,
} from "./src/runtime/thread_factory.ts";
export type {
  ThreadFactory,
  ThreadHandle,
  ThreadListener,
  ThreadPort,
} from "./src/runtime/thread_factory.ts";
export { webThreadFactory } from "./src/runtime/web_threads.ts";
export { nodeThreadFactory } from "./src/runtime/node_threads.ts";

export { RedisConnection } from "./src/redis/redis_connection.ts";
export type { RedisConnectionOptions } from "./src/redis/redis_connection.ts";
export { RedisOfflineError } from "./src/redis/redis_client.ts";
export type { RedisClient, RedisReply } from "./src/redis/redis_client.ts";
export { createNodeRedisClient } from "./src/redis/node_redis_client.ts";
export type { NodeRedisClientOptions } from "./src/redis/node_redis_client.ts";
export { RedisScript } from "./src/redis/redis_script.ts";
export { RedisReplyError } from "./src/redis/redis_reply_error.ts";
export { redisKeys } from "./src/redis/redis_keys.ts";
export type { RedisKeys } from "./src/redis/redis_keys.ts";
export { redactUrl } from "./src/redis/redact_url.ts";

export { PriorityHeap } from "./src/memory/priority_heap.ts";

export { QTasksError } from "./src/errors/qtasks_error.ts";
export { BackendError } from "./src/errors/backend_error.ts";
export { ConfigError } from "./src/errors/config_error.ts";
export { DuplicateTaskError } from "./src/errors/duplicate_task_error.ts";
export { InvalidPayloadError } from "./src/errors/invalid_payload_error.ts";
export { ResultTimeoutError } from "./src/errors/result_timeout_error.ts";
export { TaskCancelError } from "./src/errors/task_cancel_error.ts";
export { TaskFailedError } from "./src/errors/task_failed_error.ts";
export { TaskTimeoutError } from "./src/errors/task_timeout_error.ts";
export { ThreadCrashError } from "./src/errors/thread_crash_error.ts";
export { TaskPluginTriggerError } from "./src/errors/task_plugin_trigger_error.ts";
export { UnknownTaskError } from "./src/errors/unknown_task_error.ts";
export { ValidationError } from "./src/errors/validation_error.ts";
export type { ValidationIssue } from "./src/errors/validation_error.ts";
export { UnrecoverableError } from "./src/errors/unrecoverable_error.ts";
export { AppEvents } from "./src/events/app_events.ts";
export type { AppEventMap, AppEventName, TaskEventBase } from "./src/events/app_events.ts";
export { PluginHub } from "./src/plugins/plugin_hub.ts";
export { ComponentPlugins } from "./src/plugins/component_plugins.ts";
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

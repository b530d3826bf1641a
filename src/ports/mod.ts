/**
 * The ports of QTasks, for people who implement a backend, an executor or a plugin host, or
 * assemble the components by hand: the interfaces behind the app ({@linkcode Broker},
 * {@linkcode Storage}, {@linkcode GlobalConfig}, {@linkcode Worker}, {@linkcode TaskExecutor}),
 * the messages they carry, the record codec, the trigger table, and the default worker, executor
 * and starter. The Runtime and ThreadFactory ports are in `@qtasks/qtasks/runtime`; the backends
 * in `@qtasks/qtasks/memory` and `@qtasks/qtasks/redis`. Importing this module registers the
 * Deno, Bun and Node runtime adapters (as importing `@qtasks/qtasks` does): the worker and the
 * starter need them.
 *
 * @example An app assembled by hand
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { MemoryBroker } from "@qtasks/qtasks/memory";
 * import { AsyncWorker, type Broker } from "@qtasks/qtasks/ports";
 *
 * const broker: Broker = new MemoryBroker();
 * const worker = new AsyncWorker({ broker, concurrency: 4 });
 * const app = new QueueTasks({ name: "assembled", broker, worker });
 * app.task("hello", (who: string) => `hello ${who}`);
 * await app.start();
 * console.log(await (await app.addTask("hello", ["ports"])).value()); // "hello ports"
 * await app.stop();
 * ```
 *
 * @module
 */
import "../runtime/adapters.ts";

// The ports.
export type { Broker } from "./broker.ts";
export type { GetAllOptions, Storage, WaitForStatusOptions } from "./storage.ts";
export { waitForRecord } from "./wait_for_record.ts";
export type { RecordSource } from "./wait_for_record.ts";
export type { GlobalConfig } from "./global_config.ts";
export type {
  CleanOptions,
  DrainOptions,
  PausedState,
  QueryStatus,
  QueueOperations,
  RetryAllFilter,
  SubscribeOptions,
  TaskCounts,
  TaskEvent,
  TaskLogLevel,
  TaskLogLine,
  TaskPage,
  TaskQuery,
} from "./queue_operations.ts";
export type { Worker, WorkerHost, WorkerStopOptions } from "./worker.ts";
export type {
  ConcurrencyLimit,
  RateLimit,
  TaskDefinition,
  TaskExecutor,
  TaskRun,
} from "./task_executor.ts";
export type { EchoInjectTaskFn, EchoTaskFn, InjectTaskFn, TaskFn } from "./task_fn.ts";
export { createTaskContext } from "./task_context.ts";
export type { TaskContextInit, TaskServices } from "./task_context.ts";
export type { ComponentContext } from "./component_context.ts";
export { systemClock } from "./timer_clock.ts";
export type { TimerClock } from "./timer_clock.ts";

// The messages between the components.
export type {
  CancelOutcome,
  ClaimedTask,
  ExchangeRequest,
  ExchangeResult,
  Lease,
  LeaseRenewal,
  NewFlow,
  NewFlowRecord,
  NewTask,
  Settlement,
  TaskOutcome,
} from "../model/messages.ts";
export { parseFlowLink } from "../model/flow_link.ts";
export type { FlowGroupStep, FlowLink, FlowStep, FlowTaskStep } from "../model/flow_link.ts";
export { encodeHeaders, MAX_HEADERS_LENGTH, parseHeaders } from "../model/task_headers.ts";
export {
  appendPastDelivery,
  type DeliveryEnd,
  MAX_PAST_DELIVERIES,
  parsePastDeliveries,
  type PastDelivery,
} from "../model/past_delivery.ts";
export type { QueueStats } from "../model/queue_stats.ts";
export { SCHEDULES_GROUP } from "../model/published_schedule.ts";
export type { PublishedSchedule } from "../model/published_schedule.ts";
export type {
  ThroughputMinute,
  WorkerInfo,
  WorkerReport,
  WorkerStats,
} from "../model/worker_report.ts";

// The record codec: a task record as the hash fields every backend stores.
export {
  decodeTaskRecord,
  describeError,
  encodeJson,
  errorFields,
  isReservedField,
} from "../model/task_codec.ts";
export type { TaskFields } from "../model/task_record.ts";

// The types behind the app's signatures.
export type {
  ArgsSchema,
  SchemaInput,
  SchemaOutput,
  StandardSchemaIssue,
  StandardSchemaResult,
} from "../model/task_schema.ts";
export type { GeneratorTaskResult, TaskResult, YieldOf } from "../model/task_result.ts";
export type {
  DependencyScope,
  Injected,
  OpenedDependency,
  TaskDependencies,
} from "../model/depends.ts";
export type { OptionalKeys } from "../model/state.ts";
export type { HandleKinds, TaskRegistrar, TypedOptions } from "../app/task_registrar.ts";
export type { BindableTaskHandle } from "../app/detached_task.ts";
export type { AppLike } from "../app/app_like.ts";
export type { FlowSpec, FlowSpecStep } from "../app/flow_spec.ts";
export type { BackoffOptions } from "../model/retry_policy.ts";

// Plugins: the trigger table and the hubs that fire them.
export { TRIGGERS } from "../plugins/triggers.ts";
export type {
  PluginComponent,
  TriggerInfo,
  TriggerMap,
  TriggerResult,
} from "../plugins/triggers.ts";
export { PluginHub } from "../plugins/plugin_hub.ts";
export type { TaskEventBase } from "../plugins/app_events.ts";

// The default components, to assemble an app by hand.
export { AsyncWorker } from "../engine/worker/async_worker.ts";
export type { AsyncWorkerOptions } from "../engine/worker/async_worker.ts";
export { AsyncTaskExecutor } from "../engine/executor/async_task_executor.ts";
export { Starter } from "../engine/starter/starter.ts";
export { DEFAULT_QUEUE } from "../model/queue_name.ts";
export type { WorkerQueue } from "../model/queue_name.ts";
export { TaskExpiredError } from "../model/errors/task_expired_error.ts";
export { RateLimitedError } from "../model/errors/rate_limited_error.ts";

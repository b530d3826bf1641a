/**
 * Private: turns one `addTask` call into the {@linkcode NewTask} a broker stores, with every
 * per-call check (arguments, priority, extra fields, payload size, uuid, delay), and runs the
 * `qtasks_add_task_*` plugin triggers around the broker. `QueueTasks.addTask`, `addTasks` and the
 * flow compiler use it; the broker calls themselves stay in the facade.
 *
 * @module
 */
import type { QueueConfig } from "../model/queue_config.ts";
import type { PluginHub } from "../plugins/plugin_hub.ts";
import { encodeJson, isReservedField, type TaskFields } from "../model/task_codec.ts";
import { parseArgs } from "../model/task_schema.ts";
import { InvalidPayloadError } from "../model/errors/invalid_payload_error.ts";
import { UnknownTaskError } from "../model/errors/unknown_task_error.ts";
import type { NewTask } from "../ports/broker.ts";
import type {
  ConcurrencyLimit,
  Deduplication,
  RateLimit,
  TaskDefinition,
} from "../ports/task_executor.ts";
import type { AddTaskOptions } from "./add_task_options.ts";
import { checkPriority } from "./task_options.ts";
import { checkQueueName, DEFAULT_QUEUE } from "../model/queue_name.ts";
import { unknownNameHint } from "./_closest_name.ts";
import { checkDeduplication, deduplicationOf } from "./_deduplication.ts";
import { newTaskUuid, newTaskUuids } from "../model/task_uuid.ts";

/** What preparing a task uses of the app (a `QueueTasks`). */
export interface PrepareHost {
  /** The app name (in the plugins' payloads). */
  readonly name: string;
  /** Default priority and payload limit. */
  readonly config: Pick<QueueConfig, "taskDefaultPriority" | "maxPayloadBytes">;
  /** The plugins that hear `qtasks_add_task_before_broker` and `…_after_broker`. */
  readonly plugins: PluginHub;
  /** The registered tasks (their schema, priority and extra fields). */
  readonly tasks: ReadonlyMap<string, TaskDefinition>;
  /** The broker: whether it takes a caller's transaction (`transactional`). */
  readonly broker: { readonly transactional?: boolean };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `value` is a UUID (any version, either case). */
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}

/**
 * A uuid as stored: a UUID in lower case (enqueue lowercases the one a caller chose, so `get`,
 * `cancel` and `result` do too); any other text unchanged.
 *
 * @param uuid A task's uuid, in any case.
 * @returns The stored form.
 */
export function normalizeUuid(uuid: string): string {
  return isUuid(uuid) ? uuid.toLowerCase() : uuid;
}

/** Refuses arguments that are not an array. */
export function checkArgs(taskName: string, args: unknown): void {
  if (!Array.isArray(args)) {
    throw new TypeError(`Cannot add task "${taskName}": args must be an array`);
  }
}

/**
 * What one call's options settle for every task it adds, checked once: the name, the registered
 * definition, the priority, the extra fields, the queue, the delay, the deadline, the
 * transaction and the deduplication option (`addTasks` checks them once for its whole batch).
 */
interface TaskPlan {
  readonly taskName: string;
  readonly definition: TaskDefinition | undefined;
  /** Whether the arguments are checked against the task's schema. */
  readonly validate: boolean;
  /** Whether the task's concurrency and rate limits apply (not for a flow's steps). */
  readonly limited: boolean;
  readonly priority: number;
  readonly extra: TaskFields;
  /** The caller's uuid, lowercased. */
  readonly uuid: string | undefined;
  readonly queue: string | undefined;
  readonly delayMs: number;
  readonly expiresInMs: number | undefined;
  readonly tx: unknown;
  readonly deduplication: Deduplication | undefined;
}

/** Checks one call's options: see {@linkcode TaskPlan}. */
function planTask(
  app: PrepareHost,
  taskName: string,
  options: AddTaskOptions,
  validate: boolean,
  limited: boolean,
): TaskPlan {
  if (typeof taskName !== "string" || taskName === "") {
    throw new TypeError("Cannot add task: the task name must be a non-empty string");
  }
  const definition = app.tasks.get(taskName);
  if (definition === undefined && app.tasks.size > 0) {
    throw new UnknownTaskError(
      taskName,
      `Cannot add task "${taskName}": no task is registered under that name${
        unknownNameHint(taskName, app.tasks.keys())
      } (an app that registers tasks sends only those; a producer that registers none may send any name)`,
    );
  }
  const context = `Cannot add task "${taskName}"`;
  const priority = options.priority ?? definition?.priority ?? app.config.taskDefaultPriority;
  checkPriority(priority, context);
  const own = definition?.extra;
  const extra = own === undefined ? options.extra ?? {} : { ...own, ...options.extra };
  for (const [field, value] of Object.entries(extra)) {
    if (isReservedField(field)) {
      throw new TypeError(`${context}: extra field "${field}" is reserved for QTasks`);
    }
    if (typeof value !== "string") {
      throw new TypeError(`${context}: extra field "${field}" must be a string`);
    }
  }
  // A generated uuid is valid and lowercase already; a caller's is checked and lowercased.
  let uuid: string | undefined;
  if (options.uuid !== undefined) {
    if (!isUuid(options.uuid)) {
      throw new TypeError(`${context}: uuid must be a UUID, got ${String(options.uuid)}`);
    }
    uuid = options.uuid.toLowerCase();
  }
  const queue = options.queue === undefined
    ? definition?.queue
    : checkQueueName(options.queue, context, "queue");
  const delayMs = options.delayMs !== undefined || options.runAt !== undefined
    ? delayOf(taskName, options)
    : 0;
  if (options.tx !== undefined && app.broker.transactional !== true) {
    throw new TypeError(`${context}: tx (a database transaction) needs the PostgreSQL backend`);
  }
  const expiresInMs = options.expiresInMs !== undefined || options.expiresAt !== undefined
    ? expiryOf(taskName, options, delayMs)
    : undefined;
  let deduplication: Deduplication | undefined;
  // One check when neither the call nor the task deduplicates.
  if (options.deduplication !== undefined || definition?.deduplication !== undefined) {
    const own = options.deduplication;
    if (own !== undefined && own !== false && !limited) {
      throw new TypeError(
        `${context}: deduplication is not supported in a chain or group (only addTask takes it)`,
      );
    }
    // A flow's steps ignore the task's default, as they ignore its concurrency limit.
    deduplication = own === undefined
      ? (limited ? definition?.deduplication : undefined)
      : own === false
      ? undefined
      : checkDeduplication(own, context);
  }
  return {
    taskName,
    definition,
    validate,
    limited,
    priority,
    extra,
    uuid,
    queue: queue !== undefined && queue !== DEFAULT_QUEUE ? queue : undefined,
    delayMs,
    expiresInMs,
    tx: options.tx,
    deduplication,
  };
}

/**
 * The task of `args` under `plan`: the per-task checks (arguments, payload size) and parts; its
 * uuid the plan's (the caller's), else `uuid`, else a new one.
 */
function taskOf(
  plan: TaskPlan,
  args: unknown[],
  maxPayloadBytes: number,
  uuid?: string,
): NewTask {
  const { taskName, definition } = plan;
  checkArgs(taskName, args);
  if (plan.validate && definition?.schema !== undefined) {
    parseArgs(definition.schema, args, `Cannot add task "${taskName}"`);
  }
  const encoded = encodeJson(args, `arguments of task "${taskName}"`);
  // UTF-8 takes at most 3 bytes per UTF-16 unit: count bytes only when it might matter.
  if (encoded.length * 3 > maxPayloadBytes) {
    const bytes = new TextEncoder().encode(encoded).length;
    if (bytes > maxPayloadBytes) {
      throw new InvalidPayloadError(
        `Cannot add task "${taskName}": its arguments take ${bytes} bytes, over maxPayloadBytes (${maxPayloadBytes})`,
      );
    }
  }
  const task: NewTask = {
    uuid: plan.uuid ?? uuid ?? newTaskUuid(),
    taskName,
    priority: plan.priority,
    args: encoded,
    kwargs: "{}",
    extra: plan.extra,
  };
  if (plan.queue !== undefined) task.queue = plan.queue;
  if (plan.delayMs > 0) task.delayMs = plan.delayMs;
  if (plan.tx !== undefined) task.tx = plan.tx;
  if (plan.expiresInMs !== undefined) task.expiresInMs = plan.expiresInMs;
  const concurrency = definition?.concurrency;
  if (plan.limited && concurrency !== undefined) {
    task.concurrency = concurrencyOf(taskName, concurrency, args);
  }
  const rateLimit = definition?.rateLimit;
  if (plan.limited && rateLimit !== undefined) {
    task.rateLimit = {
      slot: slotOf(taskName, "rateLimit", rateLimit.key, args),
      limit: rateLimit.limit,
      durationMs: rateLimit.durationMs,
    };
  }
  if (plan.deduplication !== undefined) {
    task.deduplication = deduplicationOf(
      plan.deduplication,
      args,
      `Cannot add task "${taskName}"`,
    );
  }
  return task;
}

/**
 * A task to store, validated; `validate: false` skips the schema (a chain step's partial
 * arguments). The schema validates, it does not transform: the worker validates again and passes
 * the output on.
 *
 * @param app The app (its registered definition of the task, if any, and its config).
 * @param taskName The task name: an app that registers no task may send any name (a producer need
 *   not import the tasks); one that registers tasks sends only their names.
 * @param args Its positional arguments.
 * @param options The call's options.
 * @param validate Whether to check the arguments against the task's schema.
 * @param limited Whether to apply the task's concurrency limit (not for a flow's steps).
 */
export function prepareTask(
  app: PrepareHost,
  taskName: string,
  args: unknown[],
  options: AddTaskOptions,
  validate = true,
  limited = true,
): NewTask {
  return taskOf(
    planTask(app, taskName, options, validate, limited),
    args,
    app.config.maxPayloadBytes,
  );
}

/**
 * The tasks of one `addTasks` call: the options checked once for the batch (an invalid one
 * throws even for an empty batch), then each task's arguments, as {@linkcode prepareTask} does.
 *
 * @param app The app.
 * @param taskName The task name.
 * @param argsList One argument list per task.
 * @param options The call's options, for every task.
 */
export function prepareTasks(
  app: PrepareHost,
  taskName: string,
  argsList: unknown[][],
  options: AddTaskOptions,
): NewTask[] {
  const plan = planTask(app, taskName, options, true, true);
  const limit = app.config.maxPayloadBytes;
  // The batch's uuids made at once (slices of one text).
  const uuids = plan.uuid === undefined ? newTaskUuids(argsList.length) : undefined;
  const tasks = new Array<NewTask>(argsList.length);
  for (let i = 0; i < argsList.length; i++) {
    tasks[i] = taskOf(plan, argsList[i], limit, uuids?.[i]);
  }
  return tasks;
}

/** Runs qtasks_add_task_before_broker, then validates and encodes what the plugins left. */
export async function prepareWithPlugins(
  app: PrepareHost,
  taskName: string,
  args: unknown[],
  options: AddTaskOptions,
): Promise<NewTask> {
  checkArgs(taskName, args);
  const replaced = await app.plugins.run("qtasks_add_task_before_broker", {
    appName: app.name,
    taskName,
    args,
    // The call's priority, else the task's registered one, else the default.
    priority: options.priority ?? app.tasks.get(taskName)?.priority ??
      app.config.taskDefaultPriority,
    extra: options.extra ?? {},
  });
  return prepareTask(app, taskName, replaced.args, {
    ...options,
    priority: replaced.priority,
    extra: replaced.extra,
  });
}

/** Runs qtasks_add_task_after_broker for a stored task. */
export async function afterBroker(app: PrepareHost, task: NewTask): Promise<void> {
  await app.plugins.run("qtasks_add_task_after_broker", {
    appName: app.name,
    taskName: task.taskName,
    uuid: task.uuid,
    priority: task.priority,
  });
}

/** The delay of `delayMs` or `runAt`, in whole milliseconds from now (0: due at once). */
function delayOf(taskName: string, options: AddTaskOptions): number {
  const { delayMs, runAt } = options;
  if (delayMs !== undefined && runAt !== undefined) {
    throw new TypeError(`Cannot add task "${taskName}": give either delayMs or runAt, not both`);
  }
  if (delayMs !== undefined) {
    if (typeof delayMs !== "number" || !Number.isFinite(delayMs) || delayMs < 0) {
      throw new RangeError(
        `Cannot add task "${taskName}": delayMs must be a number of milliseconds >= 0, got ${
          String(delayMs)
        }`,
      );
    }
    return Math.ceil(delayMs);
  }
  const at = runAt instanceof Date ? runAt.getTime() : runAt;
  if (typeof at !== "number" || !Number.isFinite(at) || at < 0) {
    throw new RangeError(
      `Cannot add task "${taskName}": runAt must be a valid Date or milliseconds since the epoch, got ${
        String(runAt)
      }`,
    );
  }
  return Math.max(0, Math.ceil(at - Date.now()));
}

/** The deadline of `expiresInMs` or `expiresAt`, in whole milliseconds from now (> the delay). */
function expiryOf(taskName: string, options: AddTaskOptions, delayMs: number): number {
  const { expiresInMs, expiresAt } = options;
  const context = `Cannot add task "${taskName}"`;
  if (expiresInMs !== undefined && expiresAt !== undefined) {
    throw new TypeError(`${context}: give either expiresInMs or expiresAt, not both`);
  }
  let ms: number;
  if (expiresInMs !== undefined) {
    if (typeof expiresInMs !== "number" || !Number.isFinite(expiresInMs) || expiresInMs <= 0) {
      throw new RangeError(
        `${context}: expiresInMs must be a positive number of milliseconds, got ${
          String(expiresInMs)
        }`,
      );
    }
    ms = expiresInMs;
  } else {
    const at = expiresAt instanceof Date ? expiresAt.getTime() : expiresAt;
    if (typeof at !== "number" || !Number.isFinite(at)) {
      throw new RangeError(
        `${context}: expiresAt must be a Date or milliseconds since the epoch, got ${
          String(expiresAt)
        }`,
      );
    }
    ms = at - Date.now();
    if (ms <= 0) {
      throw new RangeError(
        `${context}: expiresAt is in the past (${new Date(at).toISOString()})`,
      );
    }
  }
  ms = Math.ceil(ms);
  if (ms <= delayMs) {
    throw new RangeError(
      `${context}: its deadline (${ms} ms) must be later than its delay (${delayMs} ms)`,
    );
  }
  return ms;
}

/** The slot of a concurrency-limited task: its name, or its name, ":" and its key. */
function concurrencyOf(
  taskName: string,
  limit: ConcurrencyLimit,
  args: unknown[],
): { slot: string; limit: number } {
  if (limit.key === undefined) return { slot: taskName, limit: limit.limit };
  const context = `Cannot add task "${taskName}"`;
  let key: unknown;
  try {
    key = (limit.key as (...args: unknown[]) => unknown)(...args);
  } catch (cause) {
    throw new TypeError(
      `${context}: concurrency.key threw: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
  }
  if (typeof key !== "string" || key.length === 0 || key.length > 200) {
    throw new TypeError(
      `${context}: concurrency.key must return a non-empty string of at most 200 characters, got ${
        typeof key === "string" ? `a string of ${key.length} characters` : typeof key
      }`,
    );
  }
  return { slot: `${taskName}:${key}`, limit: limit.limit };
}

/**
 * The slot of a limited task: its name, or its name, ":" and its key (`key` called with the
 * arguments; `field` names the option in the errors).
 */
function slotOf(
  taskName: string,
  field: "rateLimit",
  keyOf: RateLimit["key"],
  args: unknown[],
): string {
  if (keyOf === undefined) return taskName;
  const context = `Cannot add task "${taskName}"`;
  let key: unknown;
  try {
    key = (keyOf as (...args: unknown[]) => unknown)(...args);
  } catch (cause) {
    throw new TypeError(
      `${context}: ${field}.key threw: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
  if (typeof key !== "string" || key.length === 0 || key.length > 200) {
    throw new TypeError(
      `${context}: ${field}.key must return a non-empty string of at most 200 characters, got ${
        typeof key === "string" ? `a string of ${key.length} characters` : typeof key
      }`,
    );
  }
  return `${taskName}:${key}`;
}

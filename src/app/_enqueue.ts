/**
 * Private: the producer side of the app. Validates tasks, runs the `qtasks_add_task_*` plugin
 * triggers around the broker, and stores tasks and flows; `QueueTasks.addTask`, `addTasks` and
 * the `addTask` of chains and groups call these.
 *
 * @module
 */
import { DuplicateTaskError } from "../model/errors/duplicate_task_error.ts";
import type { QueueConfig } from "../model/queue_config.ts";
import type { PluginHub } from "../plugins/plugin_hub.ts";
import type { Broker, NewTask } from "../ports/broker.ts";
import type { TaskDefinition } from "../ports/task_executor.ts";
import type { AddTaskOptions } from "./add_task_options.ts";
import type { FlowOptions, FlowSpec } from "./flow_spec.ts";
import { type CompiledFlow, compileFlow } from "./_flow_compiler.ts";
import { checkArgs, prepareTask } from "./_prepare_task.ts";

/** What enqueuing uses of the app (a `QueueTasks`). */
export interface EnqueueHost {
  /** The app name (in the plugins' payloads). */
  readonly name: string;
  /** Where tasks go. */
  readonly broker: Broker;
  /** Default priority and payload limit. */
  readonly config: QueueConfig;
  /** The plugins that hear `qtasks_add_task_before_broker` and `…_after_broker`. */
  readonly plugins: PluginHub;
  /** The registered tasks (their schema, priority and extra fields). */
  readonly tasks: ReadonlyMap<string, TaskDefinition>;
}

/**
 * Validates and stores one task; a caller-chosen uuid that exists already is the task asked for.
 *
 * @returns The task's uuid.
 */
export async function enqueueTask(
  app: EnqueueHost,
  taskName: string,
  args: unknown[],
  options: AddTaskOptions,
): Promise<string> {
  const task = app.plugins.listens("qtasks_add_task_before_broker")
    ? await prepareWithPlugins(app, taskName, args, options)
    : prepare(app, taskName, args, options);
  try {
    await app.broker.add(task);
  } catch (error) {
    // A caller-chosen uuid is an idempotency key: the task exists, which is what was asked.
    if (!(options.uuid !== undefined && error instanceof DuplicateTaskError)) throw error;
  }
  if (app.plugins.listens("qtasks_add_task_after_broker")) await afterBroker(app, task);
  return task.uuid;
}

/**
 * Validates every task, then stores them in as few round trips as the broker can.
 *
 * @returns The tasks' uuids, in order.
 */
export async function enqueueTasks(
  app: EnqueueHost,
  taskName: string,
  argsList: unknown[][],
  options: AddTaskOptions,
): Promise<string[]> {
  if (!Array.isArray(argsList)) {
    throw new TypeError(`Cannot add tasks "${taskName}": argsList must be an array of arrays`);
  }
  if (options.uuid !== undefined) {
    throw new TypeError(`Cannot add tasks "${taskName}": one uuid cannot name several tasks`);
  }
  const tasks = app.plugins.listens("qtasks_add_task_before_broker")
    ? await Promise.all(argsList.map((args) => prepareWithPlugins(app, taskName, args, options)))
    : argsList.map((args) => prepare(app, taskName, args, options));
  if (tasks.length > 0) await app.broker.addBulk(tasks);
  if (app.plugins.listens("qtasks_add_task_after_broker")) {
    for (const task of tasks) await afterBroker(app, task);
  }
  return tasks.map((task) => task.uuid);
}

/**
 * Compiles a chain or group and stores its records and first tasks.
 *
 * @returns The flow's uuid and task name (`@chain` or `@group`).
 */
export async function enqueueFlow(
  app: EnqueueHost,
  spec: FlowSpec,
  options: FlowOptions,
): Promise<Omit<CompiledFlow, "flow">> {
  const { uuid, taskName, flow } = compileFlow(
    spec,
    options,
    (name, args, addOptions, validate) => prepare(app, name, args, addOptions, validate),
  );
  await app.broker.addFlow(flow);
  return { uuid, taskName };
}

/** A task to store, validated; `validate: false` skips the schema (a chain step's partial arguments). */
function prepare(
  app: EnqueueHost,
  taskName: string,
  args: unknown[],
  options: AddTaskOptions,
  validate = true,
): NewTask {
  return prepareTask(taskName, args, options, app.tasks.get(taskName), app.config, validate);
}

/** Runs qtasks_add_task_before_broker, then validates and encodes what the plugins left. */
async function prepareWithPlugins(
  app: EnqueueHost,
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
  return prepare(app, taskName, replaced.args, {
    ...options,
    priority: replaced.priority,
    extra: replaced.extra,
  });
}

async function afterBroker(app: EnqueueHost, task: NewTask): Promise<void> {
  await app.plugins.run("qtasks_add_task_after_broker", {
    appName: app.name,
    taskName: task.taskName,
    uuid: task.uuid,
    priority: task.priority,
  });
}

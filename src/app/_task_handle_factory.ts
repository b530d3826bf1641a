/**
 * Private: makes the {@linkcode TaskHandle} that `app.task(...)` returns: `addTask`, `addTasks`,
 * `s`, `withOptions`, and `call`, which runs the function in this process as a worker would
 * (schema, context, dependencies, generators), without the queue.
 *
 * @module
 */
import { drain, generatorKind, generatorResult } from "../engine/executor/_task_generator.ts";
import { callInjected } from "../engine/executor/_dependency_resolver.ts";
import type { Logger } from "../model/logger.ts";
import type { QueueConfig } from "../model/queue_config.ts";
import { parseArgs } from "../model/task_schema.ts";
import type { Broker } from "../ports/broker.ts";
import { createTaskContext } from "../ports/task_context.ts";
import type { TaskDefinition } from "../ports/task_executor.ts";
import type { AddTaskOptions } from "./add_task_options.ts";
import type { AsyncResult } from "./async_result.ts";
import type { TaskHandle } from "./task_handle.ts";
import { newTaskUuid } from "../model/task_uuid.ts";

/** What a handle uses of its app (a `QueueTasks`). */
export interface HandleHost {
  /** Enqueues one task (`app.addTask`). */
  addTask(
    taskName: string,
    args: unknown[],
    options: AddTaskOptions,
  ): Promise<AsyncResult<unknown>>;
  /** Enqueues many tasks (`app.addTasks`). */
  addTasks(
    taskName: string,
    argsList: unknown[][],
    options: AddTaskOptions,
  ): Promise<AsyncResult<unknown>[]>;
  /** The services of a `call`'s task context. */
  readonly broker: Broker;
  /** The app's config. */
  readonly config: QueueConfig;
  /** The app's logger. */
  readonly logger: Logger;
}

/**
 * The handle of a registered task.
 *
 * @param host The app that registered it.
 * @param definition Its definition.
 * @param defaults The options of each `addTask` (see `withOptions`).
 */
export function createTaskHandle(
  host: HandleHost,
  definition: TaskDefinition,
  defaults: AddTaskOptions,
): TaskHandle<unknown[], unknown> {
  return {
    name: definition.name,
    definition,
    addTask: (...args: unknown[]) => host.addTask(definition.name, args, defaults),
    addTasks: (argsList: unknown[][]) => host.addTasks(definition.name, argsList, defaults),
    s: (...args: unknown[]) => ({ taskName: definition.name, args, options: defaults }),
    withOptions: (options: AddTaskOptions) =>
      createTaskHandle(host, definition, { ...defaults, ...options }),
    call: async (...args: unknown[]) => {
      if (definition.inject !== undefined) {
        return await callInjected(
          definition,
          (ready) => createTaskHandle(host, ready, defaults).call(...args),
        );
      }
      const fn = definition.fn as (...args: unknown[]) => unknown;
      if (definition.schema !== undefined) {
        args = parseArgs(definition.schema, args, `Cannot call task "${definition.name}"`);
      }
      const signal = new AbortController().signal;
      const value = await (definition.echo
        ? fn(
          createTaskContext({
            taskName: definition.name,
            uuid: newTaskUuid(),
            priority: defaults.priority ?? definition.priority,
            deliveries: 1,
            workerId: "",
            signal,
            services: { broker: host.broker, config: host.config, logger: host.logger },
          }),
          ...args,
        )
        : fn(...args));
      const kind = generatorKind(value);
      if (kind === undefined) return value;
      return generatorResult(
        await drain(
          value as Generator<unknown>,
          kind,
          signal,
          definition.name,
          undefined,
          definition.generateHandler,
        ),
      );
    },
  };
}

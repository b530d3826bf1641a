import type { Logger } from "../model/logger.ts";
import type { TaskErrorInfo } from "../model/task_record.ts";

/**
 * What every task event tells about its task.
 *
 * @example
 * ```ts
 * import type { TaskEventBase } from "@qtasks/qtasks/ports";
 *
 * const describe = (event: TaskEventBase) => `${event.taskName} ${event.uuid} on ${event.workerId}`;
 * ```
 */
export interface TaskEventBase {
  /** The app name. */
  appName: string;
  /** The worker that runs it. */
  workerId: string;
  /** The task's id. */
  uuid: string;
  /** Its registered name. */
  taskName: string;
}

/**
 * The payload of each app event.
 *
 * @example
 * ```ts
 * import type { AppEventMap } from "@qtasks/qtasks";
 *
 * const payload: AppEventMap["taskSuccess"] = {
 *   appName: "shop", workerId: "w1", uuid: "…", taskName: "add", returning: "3",
 * };
 * ```
 */
export interface AppEventMap {
  /** The app is starting (before its components). */
  starting: { appName: string };
  /** The app is stopping (before its components). */
  stopping: { appName: string };
  /** A worker of this app started taking tasks. */
  workerRunning: { appName: string; workerId: string; concurrency: number };
  /** A worker of this app is stopping (it takes no new tasks from now on). */
  workerStopping: { appName: string; workerId: string };
  /** A task starts running on a worker of this app. */
  taskRunning: TaskEventBase & { attempt: number };
  /**
   * A task stopped running (any outcome), before its result is stored; `retry` when it failed and
   * will be retried (then no `taskError` follows: that attempt's error is on its record).
   */
  taskStopping: TaskEventBase & { status: "success" | "error" | "cancel" | "retry" };
  /** A task succeeded; `returning` is its JSON-encoded result. */
  taskSuccess: TaskEventBase & { returning: string };
  /** A task failed (and will not be retried). */
  taskError: TaskEventBase & { error: TaskErrorInfo };
  /** A task was cancelled while running. */
  taskCancel: TaskEventBase & { reason: string };
}

/**
 * The name of an app event.
 *
 * @example
 * ```ts
 * import type { AppEventName } from "@qtasks/qtasks";
 *
 * const name: AppEventName = "taskError";
 * ```
 */
export type AppEventName = keyof AppEventMap;

/**
 * The app's events (`app.events`): the app, its worker and its tasks report here. Handlers run
 * in the order they were added; one that throws (or rejects) is logged and the others still
 * run. Handlers should be quick: task events fire on the worker's hot path.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "shop" });
 * const off = app.events.on("taskError", ({ taskName, error }) => {
 *   console.error(`${taskName} failed: ${error.message}`);
 * });
 * off(); // removes the handler
 * ```
 */
export class AppEvents {
  #logger: Logger;
  #handlers = new Map<AppEventName, Array<(payload: never) => unknown>>();

  /**
   * Creates a AppEvents.
   *
   * @param logger Where failing handlers are logged.
   */
  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /**
   * Calls `handler` on every `name` event; returns a function that removes it.
   *
   * @throws {TypeError} For an unknown event name or a handler that is not a function.
   */
  on<N extends AppEventName>(
    name: N,
    handler: (payload: AppEventMap[N]) => unknown,
  ): () => void {
    if (!Object.hasOwn(EVENT_NAMES, name)) {
      throw new TypeError(
        `Cannot listen to event "${name}": no such event (${Object.keys(EVENT_NAMES).join(", ")})`,
      );
    }
    if (typeof handler !== "function") {
      throw new TypeError(`Cannot listen to event "${name}": the handler must be a function`);
    }
    const list = [...(this.#handlers.get(name) ?? []), handler as (payload: never) => unknown];
    this.#handlers.set(name, list);
    return () => {
      const rest = (this.#handlers.get(name) ?? []).filter((h) => h !== handler);
      if (rest.length > 0) this.#handlers.set(name, rest);
      else this.#handlers.delete(name);
    };
  }

  /** Whether any handler listens to `name` (callers skip building the payload otherwise). */
  has(name: AppEventName): boolean {
    return this.#handlers.has(name);
  }

  /** Calls the handlers of `name` with `payload`; failures are logged, never thrown. */
  emit<N extends AppEventName>(name: N, payload: AppEventMap[N]): void {
    const list = this.#handlers.get(name);
    if (!list) return;
    for (const handler of list) {
      try {
        const result = (handler as (payload: AppEventMap[N]) => unknown)(payload);
        if (result instanceof Promise) {
          result.catch((error: unknown) => this.#failed(name, error));
        }
      } catch (error) {
        this.#failed(name, error);
      }
    }
  }

  #failed(name: AppEventName, error: unknown): void {
    this.#logger.error(
      `A handler of event "${name}" failed: ${error instanceof Error ? error.message : error}`,
      { error },
    );
  }
}

const EVENT_NAMES: { readonly [N in AppEventName]: true } = {
  starting: true,
  stopping: true,
  workerRunning: true,
  workerStopping: true,
  taskRunning: true,
  taskStopping: true,
  taskSuccess: true,
  taskError: true,
  taskCancel: true,
};

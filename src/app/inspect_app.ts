import type { QueueTasks } from "./queue_tasks.ts";
import type { QueueConfig } from "../model/queue_config.ts";
import type { TaskDefinition } from "../ports/task_executor.ts";

/**
 * A registered task as `qtasks inspect` describes it (QTasks' `stats inspect`): its options,
 * with functions and classes by name.
 *
 * @example
 * ```ts
 * import type { TaskInfo } from "@qtasks/qtasks";
 *
 * const info: TaskInfo = {
 *   name: "add", priority: 0, echo: false, generator: false, retry: 0, retryOn: [],
 *   tags: [], middlewaresBefore: 0, middlewaresAfter: 0, inject: [], hasSchema: false,
 * };
 * ```
 */
export interface TaskInfo {
  /** The registered name. */
  name: string;
  /** Its default priority. */
  priority: number;
  /** Its time limit, in ms. */
  maxTime?: number;
  /** Whether it receives a TaskContext first. */
  echo: boolean;
  /** Whether it is a generator function. */
  generator: boolean;
  /** Its description. */
  description?: string;
  /** Retries after a failure. */
  retry: number;
  /** The error classes it retries on (all when empty and retry > 0). */
  retryOn: string[];
  /** Its backoff between retries. */
  backoff?: Record<string, unknown>;
  /** Its tags. */
  tags: string[];
  /** Its own executor's class, when it has one. */
  executor?: string;
  /** How many middlewares of its own run before and after it. */
  middlewaresBefore: number;
  /** How many middlewares of its own run after it. */
  middlewaresAfter: number;
  /** The names of its injected dependencies. */
  inject: string[];
  /** Whether a schema validates its arguments. */
  hasSchema: boolean;
  /** Extra fields stored on its records. */
  extra?: Record<string, string>;
}

/**
 * An app as `qtasks inspect app` describes it: its components, config and tasks.
 *
 * @example
 * ```ts
 * import { inspectApp, QueueTasks } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-inspect" });
 * app.task("add", (a: number, b: number) => a + b);
 * const info = inspectApp(app);
 * console.log(info.components.broker, info.tasks.map((t) => t.name)); // "MemoryBroker" ["add"]
 * ```
 */
export interface AppInfo {
  /** The app name. */
  name: string;
  /** Where its tasks live: the redacted Redis URL, or `memory`. */
  backend: string;
  /** Its components' classes. */
  components: {
    broker: string;
    storage: string;
    globalConfig: string | undefined;
    worker: string;
    starter: string;
  };
  /** Its config. */
  config: QueueConfig;
  /** Its tasks, by name. */
  tasks: TaskInfo[];
}

/**
 * Describes a registered task (see {@linkcode TaskInfo}).
 *
 * @param definition The task's definition (`app.tasks.get(name)`).
 * @returns Its description, JSON-ready.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { inspectTask } from "./inspect_app.ts";
 *
 * const app = new QueueTasks({ name: "docs-inspect-task" });
 * app.task({ name: "slow", maxTime: 5_000, retry: 2 }, async () => "done");
 * console.log(inspectTask(app.tasks.get("slow")!).retry); // 2
 * ```
 */
export function inspectTask(definition: TaskDefinition): TaskInfo {
  const info: TaskInfo = {
    name: definition.name,
    priority: definition.priority,
    echo: definition.echo,
    generator: isGeneratorFunction(definition.fn),
    retry: definition.retry ?? 0,
    retryOn: (definition.retryOn ?? []).map((type) => type.name),
    tags: [...(definition.tags ?? [])],
    middlewaresBefore: definition.middlewaresBefore?.length ?? 0,
    middlewaresAfter: definition.middlewaresAfter?.length ?? 0,
    inject: Object.keys(definition.inject ?? {}),
    hasSchema: definition.schema !== undefined,
  };
  if (definition.maxTime !== undefined) info.maxTime = definition.maxTime;
  if (definition.description !== undefined) info.description = definition.description;
  if (definition.backoff !== undefined) info.backoff = { ...definition.backoff };
  if (definition.executor !== undefined) info.executor = className(definition.executor);
  if (definition.extra !== undefined && Object.keys(definition.extra).length > 0) {
    info.extra = { ...definition.extra };
  }
  return info;
}

/**
 * Describes an app (see {@linkcode AppInfo}): QTasks' `stats inspect app`.
 *
 * @param app The app.
 * @returns Its description, JSON-ready.
 *
 * @example
 * ```ts
 * import { inspectApp, QueueTasks } from "@qtasks/qtasks";
 *
 * const info = inspectApp(new QueueTasks({ name: "docs-inspect-app" }));
 * console.log(info.backend); // "memory"
 * ```
 */
export function inspectApp(app: QueueTasks): AppInfo {
  const broker = app.broker as { connection?: { redactedUrl?: unknown } };
  const url = broker.connection?.redactedUrl;
  return {
    name: app.name,
    backend: typeof url === "string"
      ? url
      : className(app.broker) === "MemoryBroker"
      ? "memory"
      : className(app.broker),
    components: {
      broker: className(app.broker),
      storage: className(app.broker.storage),
      globalConfig: app.broker.storage.globalConfig
        ? className(app.broker.storage.globalConfig)
        : undefined,
      worker: className(app.worker),
      starter: className(app.starter),
    },
    config: app.config,
    tasks: [...app.tasks.values()].map(inspectTask).sort((a, b) => a.name.localeCompare(b.name)),
  };
}

function className(value: object): string {
  return (value as { constructor?: { name?: string } }).constructor?.name || "Object";
}

function isGeneratorFunction(fn: unknown): boolean {
  const name = (fn as { constructor?: { name?: string } })?.constructor?.name;
  return name === "GeneratorFunction" || name === "AsyncGeneratorFunction";
}

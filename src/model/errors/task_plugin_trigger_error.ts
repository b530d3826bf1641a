import { QTasksError } from "./qtasks_error.ts";

/**
 * Hands a task's failure to plugins: thrown by a task (or raised for a plugin that failed on a
 * `task_executor_*` trigger), it runs the trigger `task_executor_run_task_trigger_error`, where a
 * plugin may turn it into a result by returning `{ result }`. When none does, the task ends as
 * `error` with this error.
 *
 * @example A task that lets a plugin supply a fallback
 * ```ts
 * import { QueueTasks, TaskPluginTriggerError } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-trigger-error" });
 * app.task("price", (sku: string) => {
 *   throw new TaskPluginTriggerError("no price in the catalogue", { data: { sku } });
 * });
 * await app.addPlugin({
 *   name: "fallback-price",
 *   handlers: { task_executor_run_task_trigger_error: () => ({ result: 0 }) },
 * });
 * ```
 */
export class TaskPluginTriggerError extends QTasksError {
  /** Data for the plugins (QTasks' `kwargs`). */
  readonly data: Record<string, unknown>;
  /** The plugin that failed, when a plugin raised it. */
  readonly plugin: string | undefined;
  /** The trigger it failed on, when a plugin raised it. */
  readonly trigger: string | undefined;

  /**
   * Creates the error.
   *
   * @param message What happened.
   * @param options `data` for the plugins, the failing `plugin` and `trigger`, and `cause`.
   */
  constructor(
    message: string,
    options: ErrorOptions & {
      data?: Record<string, unknown>;
      plugin?: string;
      trigger?: string;
    } = {},
  ) {
    super("TASK_PLUGIN_TRIGGER", message, { cause: options.cause });
    this.name = "TaskPluginTriggerError";
    this.data = options.data ?? {};
    this.plugin = options.plugin;
    this.trigger = options.trigger;
  }
}

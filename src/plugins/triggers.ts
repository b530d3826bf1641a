import type { TaskRecord } from "../task/task_record.ts";

/**
 * The components a plugin can be attached to. `app` plugins hear every trigger; the others hear
 * their own component's (a `worker` plugin also hears `task_executor_*`), and start and stop
 * with it.
 *
 * @example
 * ```ts
 * import type { PluginComponent } from "@qtasks/qtasks";
 *
 * const where: PluginComponent = "worker";
 * ```
 */
export type PluginComponent = "app" | "worker" | "broker" | "storage" | "globalConfig";

/**
 * Every trigger, with the arguments its handlers receive (`args`) and the fields a handler may
 * replace by returning them (`replaces`; `never` for triggers that only notify). Names follow
 * QTasks' reference: `{component}_{function}_{suffix}`, `qtasks` for the app.
 *
 * @example A handler typed from the map
 * ```ts
 * import type { TriggerArgs, TriggerResult } from "@qtasks/qtasks";
 *
 * const addDefault = (
 *   args: TriggerArgs<"qtasks_add_task_before_broker">,
 * ): TriggerResult<"qtasks_add_task_before_broker"> =>
 *   args.args.length === 0 ? { args: ["default"] } : undefined;
 * ```
 */
export interface TriggerMap {
  /** `app.addTask`, before the task goes to the broker: may replace its arguments, priority and extra fields. */
  qtasks_add_task_before_broker: {
    args: {
      appName: string;
      taskName: string;
      args: unknown[];
      priority: number;
      extra: Record<string, string>;
    };
    replaces: { args: unknown[]; priority: number; extra: Record<string, string> };
  };
  /** `app.addTask`, after the broker stored the task. */
  qtasks_add_task_after_broker: {
    args: { appName: string; taskName: string; uuid: string; priority: number };
    replaces: never;
  };
  /** `app.get`: may replace the record read. */
  qtasks_get: {
    args: { appName: string; uuid: string; result: TaskRecord | undefined };
    replaces: { result: TaskRecord | undefined };
  };
  /** `app.stop`, before the components stop. */
  qtasks_stop: { args: { appName: string }; replaces: never };
  /** `app.ping`, with its answer. */
  qtasks_ping: { args: { appName: string; server: boolean; alive: boolean }; replaces: never };
  /** `app.flushAll`, after every key of the app was deleted. */
  qtasks_flush_all: { args: { appName: string }; replaces: never };
  /** The worker started taking tasks. */
  worker_start: {
    args: { appName: string; workerId: string; concurrency: number };
    replaces: never;
  };
  /** The worker stopped (after its running tasks finished or were given back). */
  worker_stop: { args: { appName: string; workerId: string }; replaces: never };
}

/**
 * The name of a trigger.
 *
 * @example
 * ```ts
 * import type { TriggerName } from "@qtasks/qtasks";
 *
 * const name: TriggerName = "qtasks_get";
 * ```
 */
export type TriggerName = keyof TriggerMap;

/**
 * What handlers of trigger `N` receive: its arguments, with the replaceable fields as the
 * previous plugin left them.
 *
 * @example
 * ```ts
 * import type { TriggerArgs } from "@qtasks/qtasks";
 *
 * const args: TriggerArgs<"qtasks_stop"> = { appName: "shop" };
 * ```
 */
export type TriggerArgs<N extends TriggerName> = TriggerMap[N]["args"];

/**
 * What a handler of trigger `N` may return: some of the fields it replaces (the others are kept),
 * or nothing to leave them as they are. Notify-only triggers take no return.
 *
 * @example
 * ```ts
 * import type { TriggerResult } from "@qtasks/qtasks";
 *
 * const onlyPriority: TriggerResult<"qtasks_add_task_before_broker"> = { priority: 5 };
 * ```
 */
export type TriggerResult<N extends TriggerName> = [TriggerMap[N]["replaces"]] extends [never]
  ? void
  : Partial<TriggerMap[N]["replaces"]> | void;

/** Where each trigger fires, and which fields its handlers may replace. */
interface TriggerInfo {
  readonly component: PluginComponent;
  readonly replaces: readonly string[];
}

/**
 * Every trigger by name: the component that fires it and the fields a handler may replace. The
 * runtime counterpart of {@linkcode TriggerMap}, used to check plugin options and to apply
 * returns.
 *
 * @example
 * ```ts
 * import { TRIGGERS } from "@qtasks/qtasks";
 *
 * console.log(TRIGGERS.qtasks_get.replaces); // ["result"]
 * ```
 */
export const TRIGGERS: { readonly [N in TriggerName]: TriggerInfo } = {
  qtasks_add_task_before_broker: { component: "app", replaces: ["args", "priority", "extra"] },
  qtasks_add_task_after_broker: { component: "app", replaces: [] },
  qtasks_get: { component: "app", replaces: ["result"] },
  qtasks_stop: { component: "app", replaces: [] },
  qtasks_ping: { component: "app", replaces: [] },
  qtasks_flush_all: { component: "app", replaces: [] },
  worker_start: { component: "worker", replaces: [] },
  worker_stop: { component: "worker", replaces: [] },
};

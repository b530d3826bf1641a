import type { PluginComponent, TriggerArgs, TriggerName, TriggerResult } from "./triggers.ts";

/**
 * A handler for each trigger a plugin cares about, typed from {@linkcode TriggerMap}.
 *
 * @example
 * ```ts
 * import type { TriggerHandlers } from "@qtasks/qtasks";
 *
 * const handlers: TriggerHandlers = {
 *   qtasks_add_task_before_broker: ({ priority }) => (priority === 0 ? { priority: 5 } : undefined),
 * };
 * ```
 */
export type TriggerHandlers = {
  [N in TriggerName]?: (args: TriggerArgs<N>) => TriggerResult<N> | Promise<TriggerResult<N>>;
};

/**
 * A plugin: handlers for triggers (a `handlers` map, typed per trigger, or one `trigger`
 * method for all), and optional `start` and `stop`, run when its component starts and stops.
 *
 * A handler that returns some of the fields its trigger replaces changes them for the next
 * plugin and for QTasks; returning nothing leaves them as they are. A handler that throws is
 * logged with the plugin's and the trigger's name, and the next plugin runs.
 *
 * @example A plugin that gives tasks without arguments a default one
 * ```ts
 * import { type Plugin, QueueTasks } from "@qtasks/qtasks";
 *
 * const defaults: Plugin = {
 *   name: "defaults",
 *   handlers: {
 *     qtasks_add_task_before_broker: ({ args }) => (args.length === 0 ? { args: ["anonymous"] } : undefined),
 *   },
 * };
 * const app = new QueueTasks({ name: "shop" });
 * app.addPlugin(defaults);
 * ```
 */
export interface Plugin {
  /** Named in logs. */
  readonly name: string;
  /** One handler per trigger. */
  readonly handlers?: TriggerHandlers;
  /** Called for every trigger the plugin hears that has no entry in `handlers`. */
  trigger?(name: TriggerName, args: TriggerArgs<TriggerName>): unknown;
  /** Runs when its component starts. */
  start?(): void | Promise<void>;
  /** Runs when its component stops. */
  stop?(): void | Promise<void>;
}

/**
 * Options of `app.addPlugin`.
 *
 * @example
 * ```ts
 * import type { AddPluginOptions } from "@qtasks/qtasks";
 *
 * const options: AddPluginOptions = { component: "worker", triggers: ["worker_start"] };
 * ```
 */
export interface AddPluginOptions {
  /** Only these triggers reach it (default: all it hears). */
  triggers?: TriggerName[];
  /** What it is attached to (default `app`: it hears every trigger and starts with the app). */
  component?: PluginComponent;
}

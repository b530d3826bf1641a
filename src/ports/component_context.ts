/**
 * What the app hands each component when it starts it: the config, the logger, the app's name,
 * events and plugins. Shared by the Broker, Storage and GlobalConfig ports.
 *
 * @module
 */
import type { AppEvents } from "../plugins/app_events.ts";
import type { PluginHub } from "../plugins/plugin_hub.ts";
import type { QueueConfig } from "../model/queue_config.ts";
import type { Logger } from "../model/logger.ts";

/**
 * What a Broker, Storage or GlobalConfig receives when it starts.
 *
 * @example
 * ```ts
 * import { createLogger, parseQueueConfig } from "@qtasks/qtasks";
 * import type { ComponentContext } from "@qtasks/qtasks/ports";
 *
 * const context: ComponentContext = { config: parseQueueConfig({}), logger: createLogger("info") };
 * ```
 */
export interface ComponentContext {
  /** The app's validated config. */
  config: QueueConfig;
  /** Where to log. */
  logger: Logger;
  /** The app's name. */
  appName?: string;
  /** The app's events. */
  events?: AppEvents;
  /** The app's plugins: components run their triggers and start and stop their plugins. */
  plugins?: PluginHub;
}

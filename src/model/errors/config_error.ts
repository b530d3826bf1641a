import { QTasksError } from "./qtasks_error.ts";

/**
 * A configuration value (from code or a `QTASKS_*` environment variable) is invalid.
 *
 * @example
 * ```ts
 * import { ConfigError, QueueTasks } from "@qtasks/qtasks";
 *
 * try {
 *   new QueueTasks({ config: { maxTasksProcess: 0 } });
 * } catch (error) {
 *   if (error instanceof ConfigError) console.log(error.field); // "maxTasksProcess"
 * }
 * ```
 */
export class ConfigError extends QTasksError {
  /** The configuration field that failed validation. */
  readonly field: string;

  /**
   * Creates the error.
   *
   * @param field The failing field.
   * @param message Why it failed.
   */
  constructor(field: string, message: string) {
    super("INVALID_CONFIG", message);
    this.name = "ConfigError";
    this.field = field;
  }
}

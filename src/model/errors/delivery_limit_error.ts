import { QTasksError } from "./qtasks_error.ts";

/**
 * A task was delivered `maxDeliveries` times and its worker never settled it (the worker died or
 * lost its lease each time): recovery ends it as `error` instead of running it again.
 *
 * The backends record it in the task's error fields: `error_type` `DeliveryLimitError`,
 * `error_code` `DELIVERY_LIMIT` and this message, so `record.error?.code` names it. It is never
 * retried by a retry policy.
 *
 * @example Recognise the recorded error
 * ```ts
 * import { DeliveryLimitError } from "@qtasks/qtasks";
 *
 * const error = new DeliveryLimitError(3);
 * console.log(error.name, error.code); // "DeliveryLimitError" "DELIVERY_LIMIT"
 * ```
 */
export class DeliveryLimitError extends QTasksError {
  /** How many times the task was delivered. */
  readonly deliveries: number;

  /**
   * Creates the error.
   *
   * @param deliveries How many times the task was delivered without being settled.
   */
  constructor(deliveries: number) {
    super("DELIVERY_LIMIT", deliveryLimitMessage(String(deliveries)));
    this.name = "DeliveryLimitError";
    this.deliveries = deliveries;
  }
}

/**
 * The message of a {@linkcode DeliveryLimitError}: shared with the Redis recovery script, which
 * builds it in Lua (`deliveries` is then a Lua expression's text).
 *
 * @param deliveries How many times the task was delivered, as text.
 * @returns The message.
 *
 * @example
 * ```ts
 * import { deliveryLimitMessage } from "./delivery_limit_error.ts";
 *
 * console.log(deliveryLimitMessage("3").startsWith("Task was delivered 3 times")); // true
 * ```
 */
export function deliveryLimitMessage(deliveries: string): string {
  return `Task was delivered ${deliveries} times and its worker never settled it (worker died or lost its lease); not retried again`;
}

import { QTasksError } from "./qtasks_error.ts";

/**
 * A task with this uuid exists already. `addTask(..., { uuid })` treats it as success (the uuid
 * is an idempotency key); a broker throws it for a duplicate otherwise.
 *
 * @example
 * ```ts
 * import { DuplicateTaskError } from "@qtasks/qtasks";
 *
 * const error = new DuplicateTaskError("send_email", "0b6c…");
 * console.log(error.code); // "DUPLICATE_TASK"
 * ```
 */
export class DuplicateTaskError extends QTasksError {
  /** The uuid that exists already. */
  readonly uuid: string;

  /**
   * Creates the error.
   *
   * @param taskName The task being added.
   * @param uuid Its uuid.
   */
  constructor(taskName: string, uuid: string) {
    super("DUPLICATE_TASK", `Cannot add task "${taskName}": uuid ${uuid} exists already`);
    this.name = "DuplicateTaskError";
    this.uuid = uuid;
  }
}

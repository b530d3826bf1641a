import { QTasksError } from "./qtasks_error.ts";

/**
 * The backend (Redis) could not be reached or failed a command.
 *
 * Messages name the server by its redacted URL: passwords never appear.
 *
 * @example
 * ```ts
 * import { BackendError } from "@qtasks/qtasks";
 *
 * const error = new BackendError("Cannot reach Redis at redis://***@db:6379");
 * console.log(error.code); // "BACKEND_UNAVAILABLE"
 * ```
 */
export class BackendError extends QTasksError {
  /**
   * For a failed `addTask`: the uuid of the task, which may have been stored all the same (the
   * reply was lost). Add it again with `{ uuid }` to be sure, without creating a second task.
   */
  readonly uuid: string | undefined;
  /**
   * Whether the command reached the server without an answer (no reply in time, or the
   * connection dropped after it was sent): then it may have run. `false` when it was never sent
   * (no connection) or the server refused it.
   */
  readonly sent: boolean;
  /**
   * The server's error code when Redis refused the command (`OOM`, `NOAUTH`, `WRONGPASS`,
   * `NOPERM`, `READONLY`, `MISCONF`, …): nothing was done. `undefined` otherwise.
   */
  readonly reply: string | undefined;

  /**
   * Creates the error.
   *
   * @param message What failed, with the redacted URL.
   * @param options Standard error options (`cause`), the task's `uuid`, whether the command was
   *   `sent`, the server's `reply` code when it refused it, and a more precise `code` than
   *   `BACKEND_UNAVAILABLE` (a backend's own error class, such as the PostgreSQL backend's).
   */
  constructor(
    message: string,
    options?: ErrorOptions & { uuid?: string; sent?: boolean; reply?: string; code?: string },
  ) {
    super(options?.code ?? "BACKEND_UNAVAILABLE", message, options);
    this.name = "BackendError";
    this.uuid = options?.uuid;
    this.sent = options?.sent ?? false;
    this.reply = options?.reply;
  }
}

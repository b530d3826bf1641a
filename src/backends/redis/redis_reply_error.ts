/**
 * An error reply from the Redis server (a failed command or script), as opposed to a connection
 * problem (which is a {@linkcode BackendError}). Client adapters throw it for error replies.
 *
 * @example
 * ```ts
 * import { RedisReplyError } from "@qtasks/qtasks/redis";
 *
 * const error = new RedisReplyError("WRONGTYPE Operation against a key holding the wrong kind of value");
 * console.log(error.code); // "WRONGTYPE"
 * ```
 */
export class RedisReplyError extends Error {
  /** The first word of the reply (`ERR`, `NOSCRIPT`, `WRONGTYPE`, …). */
  readonly code: string;

  /**
   * Creates the error.
   *
   * @param message The server's error text.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedisReplyError";
    this.code = message.split(" ", 1)[0] ?? "ERR";
  }
}

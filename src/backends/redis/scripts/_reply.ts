/**
 * Checks shared by the `decode…` functions of the script modules: a reply that does not have the
 * shape a script's header promises fails with a {@linkcode BackendError} that names the script
 * and what was expected, never with a `TypeError` deep in a caller.
 *
 * @module
 */
import { BackendError } from "../../../model/errors/backend_error.ts";
import type { RedisReply } from "../redis_client.ts";

/**
 * The error for a reply of the wrong shape.
 *
 * @param script The script's name.
 * @param expected What the reply should have been (`"an array of 6 items"`).
 * @param reply What came.
 * @returns The error to throw.
 *
 * @example
 * ```ts
 * import { malformedReply } from "./_reply.ts";
 *
 * console.log(malformedReply("cancel", "a status", 3).message);
 * ```
 */
export function malformedReply(script: string, expected: string, reply: unknown): BackendError {
  let shown: string;
  try {
    shown = JSON.stringify(reply) ?? String(reply);
  } catch {
    shown = String(reply);
  }
  if (shown.length > 120) shown = `${shown.slice(0, 117)}...`;
  return new BackendError(
    `Cannot decode the reply of Redis script "${script}": expected ${expected}, got ${shown}`,
  );
}

/**
 * The reply as an array (of `length` items when given).
 *
 * @param script The script's name, for the error.
 * @param reply The reply.
 * @param length The number of items it must have.
 * @returns The array.
 * @throws {BackendError} When it is not such an array.
 *
 * @example
 * ```ts
 * import { replyArray } from "./_reply.ts";
 *
 * console.log(replyArray("queue_stats", [[], 0, 0, 0], 4).length); // 4
 * ```
 */
export function replyArray(script: string, reply: RedisReply, length?: number): RedisReply[] {
  if (!Array.isArray(reply) || (length !== undefined && reply.length !== length)) {
    throw malformedReply(
      script,
      length === undefined ? "an array" : `an array of ${length} items`,
      reply,
    );
  }
  return reply;
}

/**
 * The reply as an array of strings (a list of uuids).
 *
 * @param script The script's name, for the error.
 * @param reply The reply.
 * @returns The strings.
 * @throws {BackendError} When it is not an array of strings.
 *
 * @example
 * ```ts
 * import { replyStrings } from "./_reply.ts";
 *
 * console.log(replyStrings("enqueue_bulk", ["a", "b"])); // ["a", "b"]
 * ```
 */
export function replyStrings(script: string, reply: RedisReply): string[] {
  if (!Array.isArray(reply)) throw malformedReply(script, "an array of strings", reply);
  for (const item of reply) {
    if (typeof item !== "string") throw malformedReply(script, "an array of strings", reply);
  }
  return reply as string[];
}

/**
 * The reply as an integer.
 *
 * @param script The script's name, for the error.
 * @param reply The reply.
 * @returns The number.
 * @throws {BackendError} When it is not an integer.
 *
 * @example
 * ```ts
 * import { replyInteger } from "./_reply.ts";
 *
 * console.log(replyInteger("heartbeat", 2)); // 2
 * ```
 */
export function replyInteger(script: string, reply: RedisReply): number {
  const value = typeof reply === "number" ? reply : typeof reply === "string" ? Number(reply) : NaN;
  if (!Number.isInteger(value)) throw malformedReply(script, "an integer", reply);
  return value;
}

/**
 * Turns a flat `[field, value, …]` reply (HGETALL) into an object; anything else gives `{}`.
 *
 * @param reply The reply.
 * @returns The fields.
 *
 * @example
 * ```ts
 * import { replyPairs } from "./_reply.ts";
 *
 * console.log(replyPairs(["status", "new"])); // { status: "new" }
 * ```
 */
export function replyPairs(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}

/**
 * A Lua script run with EVALSHA (falling back to EVAL once when the server lacks it).
 *
 * @example
 * ```ts
 * import { RedisScript } from "@qtasks/qtasks/redis";
 *
 * const script = new RedisScript("echo", "-- KEYS: none; ARGV[1]: text\nreturn ARGV[1]", 0);
 * console.log(script.keyCount); // 0
 * ```
 */
export class RedisScript {
  /** A name for messages. */
  readonly name: string;
  /** The Lua source. */
  readonly source: string;
  /** How many KEYS it takes (-1: any number). */
  readonly keyCount: number;
  #sha: Promise<string> | undefined;

  /**
   * Creates a RedisScript.
   *
   * @param name For messages.
   * @param source Lua source, opening with a comment documenting KEYS and ARGV.
   * @param keyCount How many KEYS it takes (-1: any number).
   */
  constructor(name: string, source: string, keyCount: number) {
    this.name = name;
    this.source = source;
    this.keyCount = keyCount;
  }

  /** The SHA-1 of the source, as EVALSHA wants it. */
  sha(): Promise<string> {
    this.#sha ??= crypto.subtle.digest("SHA-1", new TextEncoder().encode(this.source)).then(
      (digest) => [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join(""),
    );
    return this.#sha;
  }
}

/**
 * What a script call sends: its KEYS and its ARGV, as the `encode…` function of each script
 * module builds them.
 *
 * @example
 * ```ts
 * import type { ScriptCall } from "./redis_script.ts";
 *
 * const call: ScriptCall = { keys: ["{shop}:queue"], args: ["100"] };
 * ```
 */
export interface ScriptCall {
  /** KEYS, in the order the script's header lists them. */
  keys: string[];
  /** ARGV, in the order the script's header lists them. */
  args: string[];
}

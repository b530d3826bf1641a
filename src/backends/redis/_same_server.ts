/**
 * Private: whether two Redis URLs name the same server and database (for the check that a broker
 * and its storage do not split across servers).
 *
 * @module
 */

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/**
 * The server and database a Redis URL names, comparable: `host:port/db`, with the defaults filled
 * in (port 6379, database 0) and the loopback names taken as one. No credentials.
 *
 * @param url A `redis://` or `rediss://` URL (redacted or not).
 * @returns `host:port/db`.
 *
 * @example
 * ```ts
 * import { serverOf } from "./_same_server.ts";
 *
 * console.log(serverOf("redis://:***@localhost/0")); // "loopback:6379/0"
 * ```
 */
export function serverOf(url: string): string {
  try {
    const parsed = new URL(url);
    const host = parsed.hostname.toLowerCase();
    const db = parsed.pathname.replace(/^\/+/, "").replace(/\/.*$/, "") || "0";
    return `${LOOPBACK.has(host) ? "loopback" : host}:${parsed.port || "6379"}/${Number(db) || 0}`;
  } catch {
    return url;
  }
}

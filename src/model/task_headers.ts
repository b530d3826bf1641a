/**
 * The headers a task carries in its record's reserved `headers` field: a JSON object of strings
 * (trace context such as W3C `traceparent` and `tracestate`). Shared by the backends, which store
 * and claim them, and the record codec.
 *
 * @module
 */

/**
 * The most characters of headers stored (their JSON text); larger header sets are refused, not
 * cut.
 *
 * @example
 * ```ts
 * import { MAX_HEADERS_LENGTH } from "@qtasks/qtasks/ports";
 *
 * console.log(MAX_HEADERS_LENGTH); // 8192
 * ```
 */
export const MAX_HEADERS_LENGTH = 8192;

/**
 * The `headers` field's text for a task's headers: `undefined` when there are none to store, so
 * a task without headers writes no field.
 *
 * @param headers The headers (string values; other values are skipped).
 * @returns The JSON text, or `undefined`.
 * @throws {RangeError} When the JSON text is longer than {@linkcode MAX_HEADERS_LENGTH}.
 *
 * @example
 * ```ts
 * import { encodeHeaders } from "@qtasks/qtasks/ports";
 *
 * console.log(encodeHeaders({ traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }));
 * console.log(encodeHeaders({})); // undefined
 * ```
 */
export function encodeHeaders(headers: Record<string, string> | undefined): string | undefined {
  if (headers === undefined) return undefined;
  let clean: Record<string, string> | undefined;
  for (const key in headers) {
    const value = headers[key];
    if (typeof value !== "string") continue;
    (clean ??= {})[key] = value;
  }
  if (clean === undefined) return undefined;
  const text = JSON.stringify(clean);
  if (text.length > MAX_HEADERS_LENGTH) {
    throw new RangeError(
      `Cannot store the task's headers: ${text.length} characters of JSON, more than ${MAX_HEADERS_LENGTH}`,
    );
  }
  return text;
}

/**
 * The headers of a record's `headers` field: its string entries, or `undefined` when the field is
 * absent, malformed or has none (a header is a hint, never a reason to fail a task).
 *
 * @param text The field's value.
 * @returns The headers, or `undefined`.
 *
 * @example
 * ```ts
 * import { parseHeaders } from "@qtasks/qtasks/ports";
 *
 * console.log(parseHeaders('{"traceparent":"00-…"}')); // { traceparent: "00-…" }
 * console.log(parseHeaders("not json")); // undefined
 * ```
 */
export function parseHeaders(text: string | undefined): Record<string, string> | undefined {
  if (text === undefined || text === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  let headers: Record<string, string> | undefined;
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === "string") (headers ??= {})[key] = item;
  }
  return headers;
}

/** Query parameters whose value is a secret. */
const SECRET_PARAMS = /^(password|pass|pwd|passwd|secret|token|auth|key)$/i;

/**
 * Splits a URL into scheme (`redis://`), user info (everything before the last `@` of the
 * authority; `undefined` without one) and the rest. The user info is found by the last `@`,
 * not by a URL parser: a password with an unencoded `/`, `?` or `#` (common in base64 passwords)
 * would otherwise be taken for a path or a query, and shown.
 */
function splitUrl(url: string): { scheme: string; userInfo: string | undefined; rest: string } {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([\s\S]*)$/i.exec(url);
  const [, scheme, tail] = match ?? [url, "", url];
  const at = tail.lastIndexOf("@");
  if (at < 0) return { scheme, userInfo: undefined, rest: tail };
  return { scheme, userInfo: tail.slice(0, at), rest: tail.slice(at + 1) };
}

/** The rest of the URL (host, path, query) with secret query parameters hidden. */
function redactQuery(rest: string): string {
  const question = rest.indexOf("?");
  if (question < 0) return rest;
  const hash = rest.indexOf("#", question);
  const query = rest.slice(question + 1, hash < 0 ? undefined : hash);
  const redacted = query.split("&").map((pair) => {
    const equals = pair.indexOf("=");
    if (equals < 0) return pair;
    let name = pair.slice(0, equals);
    try {
      name = decodeURIComponent(name);
    } catch { /* kept as written */ }
    return SECRET_PARAMS.test(name) ? `${pair.slice(0, equals)}=***` : pair;
  }).join("&");
  return rest.slice(0, question + 1) + redacted + (hash < 0 ? "" : rest.slice(hash));
}

/**
 * Hides the password (and a lone user token) of a Redis or PostgreSQL URL, and secret query parameters
 * (`?password=…`), for logs and error messages. The user info is everything before the last `@`,
 * so a password with an unencoded `/`, `?`, `#` or `@` is hidden whole.
 *
 * @param url A URL such as `redis://user:secret@host:6379/0`.
 * @returns The URL with the password replaced by `***`.
 *
 * @example
 * ```ts
 * import { redactUrl } from "./_redact_url.ts";
 *
 * console.log(redactUrl("redis://app:s3cret@db:6379/0")); // "redis://app:***@db:6379/0"
 * console.log(redactUrl("redis://app:s3/cr@db:6379")); // "redis://app:***@db:6379"
 * console.log(redactUrl("redis://db:6379?password=s3cret")); // "redis://db:6379?password=***"
 * ```
 */
export function redactUrl(url: string): string {
  const { scheme, userInfo, rest } = splitUrl(url);
  if (userInfo === undefined) return scheme + redactQuery(rest);
  const colon = userInfo.indexOf(":");
  const shown = colon < 0 ? "***" : `${userInfo.slice(0, colon)}:***`;
  return `${scheme}${shown}@${redactQuery(rest)}`;
}

/**
 * The secrets of a URL, as written and percent-decoded: its password (or lone user token) and the
 * values of its secret query parameters. For hiding them in texts that quote them alone.
 *
 * @param url A Redis URL.
 * @returns The secrets, longest first, each at least 3 characters long.
 *
 * @example
 * ```ts
 * import { urlSecrets } from "./_redact_url.ts";
 *
 * console.log(urlSecrets("redis://app:s3%2Fcr@db:6379")); // ["s3%2Fcr", "s3/cr"]
 * ```
 */
export function urlSecrets(url: string): string[] {
  const { userInfo, rest } = splitUrl(url);
  const found: string[] = [];
  if (userInfo !== undefined) {
    const colon = userInfo.indexOf(":");
    found.push(colon < 0 ? userInfo : userInfo.slice(colon + 1));
  }
  const question = rest.indexOf("?");
  if (question >= 0) {
    for (const pair of rest.slice(question + 1).split(/[&#]/)) {
      const equals = pair.indexOf("=");
      if (equals > 0 && SECRET_PARAMS.test(pair.slice(0, equals))) {
        found.push(pair.slice(equals + 1));
      }
    }
  }
  const all = new Set<string>();
  for (const secret of found) {
    all.add(secret);
    try {
      all.add(decodeURIComponent(secret));
    } catch { /* kept as written */ }
  }
  return [...all].filter((secret) => secret.length >= 3).sort((a, b) => b.length - a.length);
}

/**
 * Whether the user info of a URL has a character that a URL parser takes for the end of the
 * authority (`/`, `?`, `#`) or an `@` before the last one: the client would read another host.
 *
 * @param url A Redis URL.
 * @returns The character, or `undefined`.
 *
 * @example
 * ```ts
 * import { unencodedInUserInfo } from "./_redact_url.ts";
 *
 * console.log(unencodedInUserInfo("redis://u:a/b@db:6379")); // "/"
 * ```
 */
export function unencodedInUserInfo(url: string): string | undefined {
  const { userInfo } = splitUrl(url);
  return userInfo === undefined ? undefined : /[/?#@]/.exec(userInfo)?.[0];
}

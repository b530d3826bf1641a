/**
 * Hides the password (and a lone user token) of a Redis URL, for logs and error messages.
 *
 * @param url A URL such as `redis://user:secret@host:6379/0`.
 * @returns The URL with the password replaced by `***`.
 *
 * @example
 * ```ts
 * import { redactUrl } from "./_redact_url.ts";
 *
 * console.log(redactUrl("redis://app:s3cret@db:6379/0")); // "redis://app:***@db:6379/0"
 * ```
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    else if (parsed.username) parsed.username = "***";
    return parsed.toString();
  } catch {
    // Not a URL: hide everything between "//" and the last "@" of the authority.
    return url.replace(/\/\/[^/]*@/, "//***@");
  }
}

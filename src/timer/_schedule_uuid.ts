/**
 * The uuid of the task a schedule's fire enqueues: a name-based UUID (version 5 layout, SHA-1
 * of app name, schedule id and fire time), so every timer process computes the same one for the
 * same fire, and a second enqueue of it (a lost reply resent, or a lagging timer) is refused by
 * the broker as a duplicate instead of creating a second task.
 *
 * @param appName The app.
 * @param scheduleId The schedule.
 * @param fireAt The fire time, ms since the epoch.
 * @returns A lowercase UUID.
 *
 * @example
 * ```ts
 * import { scheduleUuid } from "./_schedule_uuid.ts";
 *
 * const a = await scheduleUuid("shop", "report:1a2b3c4d", Date.UTC(2030, 0, 1));
 * const b = await scheduleUuid("shop", "report:1a2b3c4d", Date.UTC(2030, 0, 1));
 * console.log(a === b); // true
 * ```
 */
export async function scheduleUuid(
  appName: string,
  scheduleId: string,
  fireAt: number,
): Promise<string> {
  const text = `qtasks-timer\n${appName}\n${scheduleId}\n${fireAt}`;
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text)),
  );
  digest[6] = (digest[6] & 0x0f) | 0x50;
  digest[8] = (digest[8] & 0x3f) | 0x80;
  const hex = [...digest.subarray(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20, 32)
  }`;
}

/** A short, stable hash of a text (FNV-1a, 2 × 32 bits), as 12 hex digits: for default ids. */
export function shortHash(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x9e3779b9;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    a = Math.imul(a ^ code, 0x01000193);
    b = Math.imul(b ^ code, 0x0100019d);
  }
  return ((a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0"))
    .slice(0, 12);
}

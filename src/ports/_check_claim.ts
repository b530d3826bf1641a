/**
 * Checks the arguments of `GlobalConfig.claimOnce` (shared by the implementations).
 *
 * @throws {TypeError} For an empty key.
 * @throws {RangeError} For a TTL that is not a positive integer.
 */
export function checkClaim(key: unknown, ttlMs: unknown): void {
  if (typeof key !== "string" || key === "") {
    throw new TypeError("Cannot claim: the key must be a non-empty string");
  }
  if (!Number.isSafeInteger(ttlMs) || (ttlMs as number) < 1) {
    throw new RangeError(
      `Cannot claim "${key}": ttlMs must be a positive integer, got ${String(ttlMs)}`,
    );
  }
}

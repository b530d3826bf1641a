/**
 * The Redis Cluster slot of a key: CRC16 (XMODEM) of the key, or of the text inside its first
 * `{…}` when that is not empty, modulo 16384 (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/).
 *
 * @module
 */

/** How many slots a Redis Cluster has. */
export const CLUSTER_SLOTS = 16_384;

/** CRC16 (XMODEM), the checksum of cluster slots. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

/**
 * The slot of `key`.
 *
 * @param key A key or channel name.
 * @returns Its slot, 0–16383.
 */
export function clusterSlot(key: string): number {
  const open = key.indexOf("{");
  if (open >= 0) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(new TextEncoder().encode(key)) % CLUSTER_SLOTS;
}

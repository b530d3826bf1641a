/**
 * Private: how the app names its backend in its logs: the Redis URL with its password hidden (the
 * Redis backend's own `connection.redactedUrl`), `memory (this process only)`, or the class of a
 * broker of another kind.
 *
 * @module
 */
import type { Broker } from "../ports/broker.ts";

/** The label of the in-memory backend. */
export const MEMORY_LABEL = "memory (this process only)";

/**
 * Where the broker keeps its tasks, for a log line: never a password.
 *
 * @param broker The app's broker.
 * @returns The redacted Redis URL, {@linkcode MEMORY_LABEL}, or the broker's class name.
 */
export function backendLabel(broker: Broker): string {
  const url = (broker as { connection?: { redactedUrl?: unknown } }).connection?.redactedUrl;
  if (typeof url === "string") return url;
  const name = (broker as { constructor?: { name?: string } }).constructor?.name || "Object";
  return name === "MemoryBroker" ? MEMORY_LABEL : name;
}

/** Whether the broker is the in-memory one (no other process can reach its tasks). */
export function isMemoryBackend(broker: Broker): boolean {
  return backendLabel(broker) === MEMORY_LABEL;
}

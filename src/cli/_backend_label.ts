import type { QueueTasks } from "../app/queue_tasks.ts";

/** Where the app's tasks live, for messages: the redacted Redis URL, or the broker's class. */
export function redactedBackend(app: QueueTasks): string {
  const url = (app.broker as { connection?: { redactedUrl?: unknown } }).connection?.redactedUrl;
  if (typeof url === "string") return url;
  const name = app.broker.constructor.name;
  return name === "MemoryBroker" ? "memory" : name;
}

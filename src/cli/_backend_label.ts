import { backendLabel, MEMORY_LABEL } from "../app/_backend_label.ts";
import type { QueueTasks } from "../app/queue_tasks.ts";

/** Where the app's tasks live, for messages: the redacted Redis URL, `memory`, or the broker's class. */
export function redactedBackend(app: QueueTasks): string {
  const label = backendLabel(app.broker);
  return label === MEMORY_LABEL ? "memory" : label;
}

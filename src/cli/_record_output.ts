import type { TaskRecord } from "../model/task_record.ts";
import { fields, json } from "./_format.ts";

/** A task record as aligned `field: value` lines. */
export function recordText(record: TaskRecord): string {
  const lines: Array<[string, string]> = [
    ["uuid", record.uuid],
    ["task", record.taskName],
    ["status", record.status],
    ["priority", String(record.priority)],
    ["args", json(record.args)],
    ["created", record.createdAt.toISOString()],
  ];
  if (record.runAt) lines.push(["run at", record.runAt.toISOString()]);
  if (record.startedAt) lines.push(["started", record.startedAt.toISOString()]);
  if (record.finishedAt) lines.push(["finished", record.finishedAt.toISOString()]);
  if (record.deliveries > 0) lines.push(["deliveries", String(record.deliveries)]);
  if (record.workerId) lines.push(["worker", record.workerId]);
  for (const past of record.pastDeliveries ?? []) {
    const how = past.end === "expired" ? "lease expired" : "released";
    lines.push([
      `delivery ${past.delivery}`,
      `${past.startedAt?.toISOString() ?? "?"} → ${past.endedAt.toISOString()} ${how}` +
      (past.workerId ? ` (${past.workerId})` : ""),
    ]);
  }
  if (record.progress !== undefined) lines.push(["progress", json(record.progress)]);
  if (record.status === "success") lines.push(["result", json(record.returning)]);
  if (record.error) lines.push(["error", `${record.error.type}: ${record.error.message}`]);
  if (record.cancelReason !== undefined) lines.push(["cancel reason", record.cancelReason]);
  if (record.attempt !== undefined) lines.push(["attempt", String(record.attempt)]);
  if (record.retry !== undefined) lines.push(["retries left", String(record.retry)]);
  if (record.retryChildUuid) lines.push(["next attempt", record.retryChildUuid]);
  for (const [name, value] of Object.entries(record.extra)) lines.push([name, value]);
  return fields(lines);
}

/** A task record as one line of JSON (dates as ISO strings). */
export function recordJson(record: TaskRecord): string {
  return JSON.stringify(record) + "\n";
}

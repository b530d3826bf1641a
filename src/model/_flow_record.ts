import type { NewFlowRecord } from "./messages.ts";
import type { TaskFields } from "./task_record.ts";

/**
 * The task name of a chain's record and of a group's record.
 *
 * @example
 * ```ts
 * import { FLOW_TASK_NAMES } from "./_flow_record.ts";
 *
 * console.log(FLOW_TASK_NAMES.chain); // "@chain"
 * ```
 */
export const FLOW_TASK_NAMES: { readonly chain: "@chain"; readonly group: "@group" } = {
  chain: "@chain",
  group: "@group",
};

/**
 * The error fields a failed step passes on to its group and chain records.
 *
 * @example
 * ```ts
 * import { FLOW_ERROR_FIELDS } from "./_flow_record.ts";
 *
 * console.log(FLOW_ERROR_FIELDS.includes("error_message")); // true
 * ```
 */
export const FLOW_ERROR_FIELDS: readonly string[] = [
  "error_type",
  "error_message",
  "error_code",
  "traceback",
  "cancel_reason",
];

/**
 * Whether a chain or group record with this status still runs (`process`; `new` is accepted for
 * records written by other producers).
 *
 * @param status The record's status field.
 * @returns `true` while the flow runs.
 *
 * @example
 * ```ts
 * import { isFlowRunning } from "./_flow_record.ts";
 *
 * console.log(isFlowRunning("process"), isFlowRunning("success")); // true false
 * ```
 */
export function isFlowRunning(status: string | undefined): boolean {
  return status === "process" || status === "new";
}

/**
 * The stored fields of a new chain or group record.
 *
 * @param record The record to create.
 * @param stamp The time, unix seconds with a fraction.
 * @returns Its fields: status `process`, task name `@chain` or `@group`, its steps.
 *
 * @example
 * ```ts
 * import { flowRecordFields } from "./_flow_record.ts";
 *
 * const fields = flowRecordFields({ uuid: "c", kind: "chain", steps: ["a", "b"], current: "a" }, "1700000000.000000");
 * console.log(fields.task_name, fields.flow_steps); // @chain ["a","b"]
 * ```
 */
export function flowRecordFields(record: NewFlowRecord, stamp: string): TaskFields {
  const fields: TaskFields = {
    task_name: FLOW_TASK_NAMES[record.kind],
    priority: "0",
    args: "[]",
    kwargs: "{}",
    status: "process",
    created_at: stamp,
    updated_at: stamp,
    started_at: stamp,
    deliveries: "0",
    flow_kind: record.kind,
    flow_steps: JSON.stringify(record.steps),
  };
  if (record.current !== undefined) fields.flow_current = record.current;
  return fields;
}

/**
 * A flow record's uuid and task name (for error messages).
 *
 * @param record The record.
 * @returns `{ uuid, taskName }`.
 *
 * @example
 * ```ts
 * import { flowRecordName } from "./_flow_record.ts";
 *
 * console.log(flowRecordName({ uuid: "g", kind: "group", steps: [] }).taskName); // "@group"
 * ```
 */
export function flowRecordName(record: NewFlowRecord): { uuid: string; taskName: string } {
  return { uuid: record.uuid, taskName: FLOW_TASK_NAMES[record.kind] };
}

/**
 * Reads a JSON array of strings (a flow record's `flow_steps`); `[]` when it is not one.
 *
 * @param text The stored field.
 * @returns The strings.
 *
 * @example
 * ```ts
 * import { parseStringList } from "./_flow_record.ts";
 *
 * console.log(parseStringList('["a","b"]')); // ["a", "b"]
 * ```
 */
export function parseStringList(text: string | undefined): string[] {
  if (text === undefined) return [];
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((item) => typeof item === "string") : [];
  } catch {
    return [];
  }
}

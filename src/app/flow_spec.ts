import type { TaskSignature } from "./task_signature.ts";

/**
 * One step of a chain or group as the producer describes it: a task (`piped`: it gets the previous
 * step's result before its own arguments) or a group of tasks.
 *
 * @example
 * ```ts
 * import type { FlowSpecStep } from "@qtasks/qtasks/ports";
 *
 * const step: FlowSpecStep = { signature: { taskName: "add", args: [1, 2], options: {} }, piped: false };
 * ```
 */
export type FlowSpecStep =
  | { signature: TaskSignature<unknown>; piped: boolean }
  | { group: readonly TaskSignature<unknown>[] };

/**
 * A chain or group as the producer describes it, before the app turns it into records: a group
 * alone is one group step.
 *
 * @example
 * ```ts
 * import type { FlowSpec } from "@qtasks/qtasks/ports";
 *
 * const spec: FlowSpec = { steps: [] };
 * ```
 */
export interface FlowSpec {
  /** The steps, in order. */
  steps: readonly FlowSpecStep[];
}

/**
 * Options of a chain's or group's `addTask`.
 *
 * @example
 * ```ts
 * import type { FlowOptions } from "@qtasks/qtasks";
 *
 * const options: FlowOptions = { uuid: crypto.randomUUID() };
 * ```
 */
export interface FlowOptions {
  /** The uuid of the chain's or group's record (default: a new random one). */
  uuid?: string;
  /** Your open transaction (PostgreSQL backend): the flow is stored in it (see `AddTaskOptions.tx`). */
  tx?: unknown;
}

/**
 * What a chain or group stores on the records of its tasks, so that the broker (not the producer)
 * runs it: each task of a flow carries, in its `flow` field, the chain and group it belongs to and
 * the steps still to run after it. When the task succeeds, the broker starts the next step in the
 * same atomic step that stores the result (Redis: the exchange script), passing the result as the
 * next task's first argument; when it fails, the broker ends its group and chain with its error.
 *
 * @module
 */

/**
 * One task still to run in a flow: its uuid (chosen by the producer), name, priority, and the
 * arguments given to it (JSON text of an array), which follow the previous step's result.
 *
 * @example
 * ```ts
 * import type { FlowTaskStep } from "@qtasks/qtasks/ports";
 *
 * const step: FlowTaskStep = { uuid: crypto.randomUUID(), name: "store", priority: 0, args: '["pages"]' };
 * ```
 */
export interface FlowTaskStep {
  /** The uuid its record gets. */
  uuid: string;
  /** The registered task name. */
  name: string;
  /** Its priority. */
  priority: number;
  /** Its own arguments, JSON text of an array; the previous result goes before them. */
  args: string;
  /** Extra string fields stored on its record. */
  extra?: Record<string, string>;
  /** Its named queue (absent: the default queue). */
  queue?: string;
}

/**
 * A group still to run in a flow: its members run in parallel, each given the previous step's
 * result; the next step gets their results, in order, as one array.
 *
 * @example
 * ```ts
 * import type { FlowGroupStep } from "@qtasks/qtasks/ports";
 *
 * const step: FlowGroupStep = { group: crypto.randomUUID(), members: [] };
 * ```
 */
export interface FlowGroupStep {
  /** The uuid of the group's record. */
  group: string;
  /** Its tasks. */
  members: FlowTaskStep[];
}

/**
 * A step of a flow: a task or a group.
 *
 * @example
 * ```ts
 * import type { FlowStep } from "@qtasks/qtasks/ports";
 *
 * const steps: FlowStep[] = [];
 * ```
 */
export type FlowStep = FlowTaskStep | FlowGroupStep;

/**
 * The `flow` field of a task record (JSON): the chain and group the task belongs to, and the steps
 * after it (after its group, for a member of a group).
 *
 * @example
 * ```ts
 * import type { FlowLink } from "@qtasks/qtasks/ports";
 *
 * const link: FlowLink = { chain: crypto.randomUUID(), next: [] };
 * ```
 */
export interface FlowLink {
  /** The uuid of the chain's record, when the task is part of a chain. */
  chain?: string;
  /** The group it is a member of: the group record's uuid, its index and the group's size. */
  group?: { uuid: string; index: number; size: number };
  /** The steps still to run once it (or its group) succeeded. */
  next: FlowStep[];
}

/**
 * Reads a `flow` field; `undefined` when it is not one (an empty `next` may be stored as `{}` by
 * Redis' JSON encoder).
 *
 * @param text The stored field.
 * @returns The link, or `undefined`.
 *
 * @example
 * ```ts
 * import { parseFlowLink } from "@qtasks/qtasks/ports";
 *
 * console.log(parseFlowLink('{"chain":"c","next":{}}')); // { chain: "c", next: [] }
 * ```
 */
export function parseFlowLink(text: string | undefined): FlowLink | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== "object") return undefined;
  const raw = value as Partial<FlowLink>;
  const link: FlowLink = { next: Array.isArray(raw.next) ? raw.next : [] };
  if (typeof raw.chain === "string") link.chain = raw.chain;
  const group = raw.group;
  if (group && typeof group.uuid === "string") {
    link.group = {
      uuid: group.uuid,
      index: Number(group.index) || 0,
      size: Number(group.size) || 0,
    };
  }
  return link;
}

/**
 * The arguments of a step given the previous result: the result first, then the step's own.
 *
 * @param previous The previous result (JSON text), or `undefined` for a flow's first step.
 * @param args The step's own arguments (JSON text of an array).
 * @returns JSON text of the full argument array.
 *
 * @example
 * ```ts
 * import { stepArgs } from "./flow_link.ts";
 *
 * console.log(stepArgs("3", '["x"]')); // [3,"x"]
 * ```
 */
export function stepArgs(previous: string | undefined, args: string): string {
  if (previous === undefined) return args;
  return args.trim() === "[]" ? `[${previous}]` : `[${previous},${args.trim().slice(1)}`;
}

/**
 * Whether a step is a group.
 *
 * @param step A step.
 * @returns `true` for a {@linkcode FlowGroupStep}.
 *
 * @example
 * ```ts
 * import { isGroupStep } from "./flow_link.ts";
 *
 * console.log(isGroupStep({ group: "g", members: [] })); // true
 * ```
 */
export function isGroupStep(step: FlowStep): step is FlowGroupStep {
  return typeof (step as FlowGroupStep).group === "string";
}

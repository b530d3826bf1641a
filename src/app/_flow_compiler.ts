/**
 * Private: compiles a chain or a group, as the producer describes it ({@linkcode FlowSpec}), into
 * what the broker stores at once ({@linkcode NewFlow}): the chain's record (and its first group's),
 * and its first tasks, each carrying the rest of the flow in its `flow` field.
 *
 * @module
 */
import {
  type FlowLink,
  type FlowStep,
  type FlowTaskStep,
  isGroupStep,
} from "../model/flow_link.ts";
import { FLOW_TASK_NAMES } from "../model/_flow_record.ts";
import type { NewFlow, NewFlowRecord, NewTask } from "../ports/broker.ts";
import type { AddTaskOptions } from "./add_task_options.ts";
import type { FlowOptions, FlowSpec, FlowSpecStep } from "./flow_spec.ts";
import type { TaskSignature } from "./task_signature.ts";
import { isUuid } from "./_prepare_task.ts";
import { newTaskUuid } from "../model/task_uuid.ts";

/**
 * How the app turns one task of a flow into a {@linkcode NewTask}, validated as `addTask` does;
 * `validate: false` skips the schema (a piped step gets its first argument at run time).
 */
export type PrepareFlowTask = (
  taskName: string,
  args: unknown[],
  options: AddTaskOptions,
  validate: boolean,
) => NewTask;

/** A compiled flow: what to store, and the uuid and task name of its result. */
export interface CompiledFlow {
  /** The flow's uuid: its chain's record, or a lone group's. */
  uuid: string;
  /** `@chain` or `@group`. */
  taskName: string;
  /** The records and first tasks for {@linkcode Broker.addFlow}. */
  flow: NewFlow;
}

/**
 * Compiles a chain or group; nothing is stored.
 *
 * @throws {TypeError} On a uuid that is not a UUID, or a step with a delay or a uuid of its own.
 * @throws {RangeError} On a chain without steps.
 */
export function compileFlow(
  spec: FlowSpec,
  options: FlowOptions,
  prepare: PrepareFlowTask,
): CompiledFlow {
  const uuid = options.uuid ?? newTaskUuid();
  if (!isUuid(uuid)) {
    throw new TypeError(`Cannot add a chain or group: uuid must be a UUID, got ${String(uuid)}`);
  }
  const [first, ...later] = spec.steps;
  if (first === undefined) throw new RangeError("Cannot add a chain: it has no steps");
  const isChain = !(spec.steps.length === 1 && "group" in first);
  const id = uuid.toLowerCase();
  const next: FlowStep[] = later.map((step) => flowStep(step, prepare));
  // The steps' uuids (a group: its record's); the first one's is known below.
  const steps = ["", ...next.map((step) => isGroupStep(step) ? step.group : step.uuid)];
  const records: NewFlowRecord[] = [];
  const tasks: NewTask[] = [];
  if ("group" in first) {
    const group = isChain ? newTaskUuid() : id;
    steps[0] = group;
    const size = first.group.length;
    const members = first.group.map((signature, index) => {
      const link: FlowLink = { group: { uuid: group, index, size }, next };
      if (isChain) link.chain = id;
      return flowTask(signature, link, prepare);
    });
    records.push({ uuid: group, kind: "group", steps: members.map((task) => task.uuid) });
    tasks.push(...members);
  } else {
    const link: FlowLink = { chain: id, next };
    const task = flowTask(first.signature, link, prepare);
    steps[0] = task.uuid;
    tasks.push(task);
  }
  if (isChain) records.unshift({ uuid: id, kind: "chain", steps, current: steps[0] });
  return {
    uuid: id,
    taskName: isChain ? FLOW_TASK_NAMES.chain : FLOW_TASK_NAMES.group,
    flow: { records, tasks },
  };
}

/** The first task of a flow (or a member of its first group), validated as `addTask` does. */
function flowTask(
  signature: TaskSignature<unknown>,
  link: FlowLink,
  prepare: PrepareFlowTask,
): NewTask {
  checkFlowOptions(signature);
  const task = prepare(signature.taskName, [...signature.args], signature.options, true);
  task.flow = JSON.stringify(link);
  return task;
}

/** A later step of a flow: its own arguments are checked and encoded now, the rest at run time. */
function flowStep(step: FlowSpecStep, prepare: PrepareFlowTask): FlowStep {
  if ("group" in step) {
    return {
      group: newTaskUuid(),
      members: step.group.map((signature) => flowTaskStep(signature, true, prepare)),
    };
  }
  return flowTaskStep(step.signature, step.piped, prepare);
}

function flowTaskStep(
  signature: TaskSignature<unknown>,
  piped: boolean,
  prepare: PrepareFlowTask,
): FlowTaskStep {
  checkFlowOptions(signature);
  const task = prepare(signature.taskName, [...signature.args], signature.options, !piped);
  const step: FlowTaskStep = {
    uuid: task.uuid,
    name: task.taskName,
    priority: task.priority,
    args: task.args,
  };
  if (Object.keys(task.extra).length > 0) step.extra = task.extra;
  if (task.queue !== undefined) step.queue = task.queue;
  return step;
}

/**
 * A task of a flow takes the handle's priority, queue and extra fields; a delay, a uuid, a
 * deadline or a deduplication is refused.
 */
function checkFlowOptions(signature: TaskSignature<unknown>): void {
  const options = signature.options ?? {};
  const names = ["delayMs", "runAt", "uuid", "expiresInMs", "expiresAt", "deduplication"] as const;
  for (const name of names) {
    // deduplication: false (off) is no deduplication; the task's default is ignored in a flow.
    if (options[name] !== undefined && options[name] !== false) {
      throw new TypeError(
        `Cannot add task "${signature.taskName}" to a chain or group: option ${name} is not supported there`,
      );
    }
  }
}

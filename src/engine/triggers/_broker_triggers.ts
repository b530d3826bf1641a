/**
 * The broker triggers that fire around an add or an exchange, for
 * `triggeredBroker`:
 * the order they run in, what each may replace, and the `listens` checks that keep a path
 * without plugins free of allocation and await. Internal.
 *
 * @module
 */
import type { ComponentPlugins } from "./_component_plugins.ts";
import type {
  ClaimedTask,
  ExchangeRequest,
  ExchangeResult,
  NewTask,
  Settlement,
} from "../../model/messages.ts";

/**
 * Whether any plugin hears a trigger of `add`/`addBulk` (`broker_add_before`, `storage_add`,
 * `broker_add_after`): when none does, a broker enqueues without {@linkcode beforeAdd} and
 * {@linkcode afterAdd}, at the cost of three map lookups.
 *
 * @param plugins The broker's plugins.
 * @returns Whether the add triggers must run.
 */
export function addHeard(plugins: ComponentPlugins): boolean {
  return plugins.listens("broker_add_before") || plugins.listens("storage_add") ||
    plugins.listens("broker_add_after");
}

/**
 * Runs the triggers of a task about to be stored and queued: `broker_add_before` (may replace
 * the task, not its uuid), then `storage_add` (may replace its extra fields). Each runs only when
 * heard.
 *
 * @param plugins The broker's plugins.
 * @param task The task as the producer sent it.
 * @returns The task to store (the same object when nothing was replaced).
 */
export async function beforeAdd(plugins: ComponentPlugins, task: NewTask): Promise<NewTask> {
  const appName = plugins.appName;
  let current = task;
  if (plugins.listens("broker_add_before")) {
    current = (await plugins.run("broker_add_before", { appName, task: current })).task;
  }
  if (plugins.listens("storage_add")) {
    const { extra } = await plugins.run("storage_add", {
      appName,
      uuid: current.uuid,
      taskName: current.taskName,
      extra: current.extra,
    });
    if (extra !== current.extra) current = { ...current, extra };
  }
  return current;
}

/**
 * Runs `broker_add_after` for a task that was stored and queued (when heard).
 *
 * @param plugins The broker's plugins.
 * @param task The task as stored (what {@linkcode beforeAdd} returned).
 */
export async function afterAdd(plugins: ComponentPlugins, task: NewTask): Promise<void> {
  if (plugins.listens("broker_add_after")) {
    await plugins.run("broker_add_after", { appName: plugins.appName, task });
  }
}

/**
 * Stores many tasks with the add triggers around them: {@linkcode beforeAdd} for each (which may
 * replace it), then `store` with what they left, then {@linkcode afterAdd} for each. Without a
 * plugin that hears them, just `store(tasks)`.
 *
 * @param plugins The broker's plugins.
 * @param tasks The tasks to add.
 * @param store Stores them (all or none).
 */
export async function addAll(
  plugins: ComponentPlugins,
  tasks: NewTask[],
  store: (tasks: NewTask[]) => void | Promise<void>,
): Promise<void> {
  if (!addHeard(plugins)) return await store(tasks);
  const prepared: NewTask[] = [];
  for (const task of tasks) prepared.push(await beforeAdd(plugins, task));
  await store(prepared);
  for (const task of prepared) await afterAdd(plugins, task);
}

/** Every trigger an exchange may fire. */
const EXCHANGE_TRIGGERS = [
  "broker_remove_finished_task",
  "storage_update",
  "storage_remove_finished_task",
  "broker_running_older_tasks",
  "storage_running_older_tasks",
  "storage_add_process",
  "broker_add_worker",
] as const;

/**
 * Whether any plugin hears a trigger of an exchange: when none does, a broker exchanges without
 * {@linkcode beforeExchange} and {@linkcode afterExchange} (no allocation, no await).
 *
 * @param plugins The broker's plugins.
 * @returns Whether the exchange triggers must run.
 */
export function exchangeHeard(plugins: ComponentPlugins): boolean {
  for (const name of EXCHANGE_TRIGGERS) if (plugins.listens(name)) return true;
  return false;
}

/**
 * Runs the triggers of an exchange before its settle step: for each settlement that finishes a
 * task (`success`, `error`, `cancel` or `retry`; not `release`), `broker_remove_finished_task` then
 * `storage_update`, each of which may replace the settlement (its uuid and deliveries stay).
 *
 * @param plugins The broker's plugins.
 * @param request The exchange as the worker sent it (left unchanged).
 * @returns The exchange to run (the same object when nothing was replaced).
 */
export async function beforeExchange(
  plugins: ComponentPlugins,
  request: ExchangeRequest,
): Promise<ExchangeRequest> {
  const broker = plugins.listens("broker_remove_finished_task");
  const storage = plugins.listens("storage_update");
  if (!broker && !storage) return request;
  const appName = plugins.appName;
  const workerId = request.workerId;
  let settlements: Settlement[] | undefined;
  for (let i = 0; i < request.settlements.length; i++) {
    const original = request.settlements[i];
    if (original.status === "release") continue;
    let settlement: Settlement = original;
    if (broker) {
      settlement = (await plugins.run("broker_remove_finished_task", {
        appName,
        workerId,
        settlement,
      })).settlement;
    }
    if (storage) {
      settlement = (await plugins.run("storage_update", { appName, workerId, settlement }))
        .settlement;
    }
    if (settlement !== original) {
      settlements ??= request.settlements.slice();
      settlements[i] = settlement;
    }
  }
  return settlements ? { ...request, settlements } : request;
}

/**
 * Runs the triggers of an exchange after it ran: `storage_remove_finished_task` for each
 * settlement that finished a task and was not rejected; `broker_running_older_tasks` and
 * `storage_running_older_tasks` when leases were recovered; for each claimed task,
 * `storage_add_process` then `broker_add_worker`, which may replace what the worker gets (its
 * uuid, deliveries and isolation stay). Each runs only when heard.
 *
 * @param plugins The broker's plugins.
 * @param request The exchange that ran (what {@linkcode beforeExchange} returned).
 * @param result What it did (left unchanged).
 * @returns The result for the worker (the same object when no claimed task was replaced).
 */
export async function afterExchange(
  plugins: ComponentPlugins,
  request: ExchangeRequest,
  result: ExchangeResult,
): Promise<ExchangeResult> {
  const appName = plugins.appName;
  const workerId = request.workerId;
  if (plugins.listens("storage_remove_finished_task")) {
    const rejected = result.rejected.length > 0 ? new Set(result.rejected) : undefined;
    for (const settlement of request.settlements) {
      if (settlement.status === "release" || rejected?.has(settlement.uuid)) continue;
      await plugins.run("storage_remove_finished_task", { appName, workerId, settlement });
    }
  }
  if (result.recovered > 0) {
    const recovered = result.recovered;
    if (plugins.listens("broker_running_older_tasks")) {
      await plugins.run("broker_running_older_tasks", { appName, workerId, recovered });
    }
    if (plugins.listens("storage_running_older_tasks")) {
      await plugins.run("storage_running_older_tasks", { appName, workerId, recovered });
    }
  }
  const storage = plugins.listens("storage_add_process");
  const broker = plugins.listens("broker_add_worker");
  if (!storage && !broker) return result;
  let claimed: ClaimedTask[] | undefined;
  for (let i = 0; i < result.claimed.length; i++) {
    const original = result.claimed[i];
    let task = original;
    if (storage) {
      task = (await plugins.run("storage_add_process", { appName, workerId, task })).task;
    }
    if (broker) task = (await plugins.run("broker_add_worker", { appName, workerId, task })).task;
    if (task !== original) {
      claimed ??= result.claimed.slice();
      claimed[i] = task;
    }
  }
  return claimed ? { ...result, claimed } : result;
}

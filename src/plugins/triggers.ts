import type { ClaimedTask, NewTask, Settlement, TaskOutcome } from "../model/messages.ts";
import type { TaskPluginTriggerError } from "../model/errors/task_plugin_trigger_error.ts";
import type { TaskErrorInfo, TaskRecord } from "../model/task_record.ts";

/**
 * The components a plugin can be attached to. `app` plugins hear every trigger; the others hear
 * their own component's (a `worker` plugin also hears `task_executor_*`), and start and stop
 * with it.
 *
 * @example
 * ```ts
 * import type { PluginComponent } from "@qtasks/qtasks/ports";
 *
 * const where: PluginComponent = "worker";
 * ```
 */
export type PluginComponent = "app" | "worker" | "broker" | "storage" | "globalConfig";

/**
 * Every trigger, with the arguments its handlers receive (`args`) and the fields a handler may
 * replace by returning them (`replaces`; `never` for triggers that only notify). Names follow
 * QTasks' reference: `{component}_{function}_{suffix}`, `qtasks` for the app.
 *
 * @example A handler typed from the map
 * ```ts
 * import type { TriggerArgs } from "@qtasks/qtasks";
 * import type { TriggerResult } from "@qtasks/qtasks/ports";
 *
 * const addDefault = (
 *   args: TriggerArgs<"qtasks_add_task_before_broker">,
 * ): TriggerResult<"qtasks_add_task_before_broker"> =>
 *   args.args.length === 0 ? { args: ["default"] } : undefined;
 * ```
 */
export interface TriggerMap {
  // ── app (QueueTasks) ──────────────────────────────────────────────────────────────────────
  /** `app.addTask`, before the task goes to the broker: may replace its arguments, priority and extra fields. */
  qtasks_add_task_before_broker: {
    args: {
      appName: string;
      taskName: string;
      args: unknown[];
      priority: number;
      extra: Record<string, string>;
    };
    replaces: { args: unknown[]; priority: number; extra: Record<string, string> };
  };
  /** `app.addTask`, after the broker stored the task. */
  qtasks_add_task_after_broker: {
    args: { appName: string; taskName: string; uuid: string; priority: number };
    replaces: never;
  };
  /** `app.get`: may replace the record read. */
  qtasks_get: {
    args: { appName: string; uuid: string; result: TaskRecord | undefined };
    replaces: { result: TaskRecord | undefined };
  };
  /** `app.stop`, before the components stop. */
  qtasks_stop: { args: { appName: string }; replaces: never };
  /** `app.ping`, with its answer. */
  qtasks_ping: { args: { appName: string; server: boolean; alive: boolean }; replaces: never };
  /** `app.flushAll`, after every key of the app was deleted. */
  qtasks_flush_all: { args: { appName: string }; replaces: never };

  // ── broker ────────────────────────────────────────────────────────────────────────────────
  /** The broker started (after its Storage and GlobalConfig). */
  broker_start: { args: { appName: string }; replaces: never };
  /** The broker is stopping (before its Storage and GlobalConfig). */
  broker_stop: { args: { appName: string }; replaces: never };
  /** A worker starts listening to the broker for tasks (once per worker start). */
  broker_listen_start: { args: { appName: string }; replaces: never };
  /** `add`/`addBulk`, for each task before it is stored and queued: may replace the task (not its uuid). */
  broker_add_before: { args: { appName: string; task: NewTask }; replaces: { task: NewTask } };
  /** `add`/`addBulk`, for each task after it was stored and queued. */
  broker_add_after: { args: { appName: string; task: NewTask }; replaces: never };
  /**
   * An exchange claimed a task for a worker, before the worker gets it: may replace what the
   * worker receives (its uuid, deliveries and isolation stay).
   */
  broker_add_worker: {
    args: { appName: string; workerId: string; task: ClaimedTask };
    replaces: { task: ClaimedTask };
  };
  /** `broker.get`: may replace the record read. */
  broker_get: {
    args: { appName: string; uuid: string; result: TaskRecord | undefined };
    replaces: { result: TaskRecord | undefined };
  };
  /** `broker.cancel`, before the task's status is updated: may replace the reason. */
  broker_update: {
    args: { appName: string; uuid: string; reason: string };
    replaces: { reason: string };
  };
  /**
   * An exchange is about to settle a finished task (success, error or cancel): may replace the
   * settlement (its uuid and deliveries stay).
   */
  broker_remove_finished_task: {
    args: { appName: string; workerId: string; settlement: Settlement };
    replaces: { settlement: Settlement };
  };
  /** An exchange recovered tasks whose leases had expired (their workers died). */
  broker_running_older_tasks: {
    args: { appName: string; workerId: string; recovered: number };
    replaces: never;
  };
  /** `broker.flushAll`, after the queues were deleted. */
  broker_flush_all: { args: { appName: string }; replaces: never };

  // ── storage ───────────────────────────────────────────────────────────────────────────────
  /** The storage started (after its GlobalConfig). */
  storage_start: { args: { appName: string }; replaces: never };
  /** The storage is stopping (before its GlobalConfig). */
  storage_stop: { args: { appName: string }; replaces: never };
  /** A task's record is about to be written on enqueue: may replace its extra fields. */
  storage_add: {
    args: { appName: string; uuid: string; taskName: string; extra: Record<string, string> };
    replaces: { extra: Record<string, string> };
  };
  /** `storage.get`: may replace the record read. */
  storage_get: {
    args: { appName: string; uuid: string; result: TaskRecord | undefined };
    replaces: { result: TaskRecord | undefined };
  };
  /** `storage.getAll`: may replace the records read. */
  storage_get_all: {
    args: { appName: string; results: TaskRecord[] };
    replaces: { results: TaskRecord[] };
  };
  /**
   * A finished task's outcome is about to be written to its record (after
   * `broker_remove_finished_task`): may replace the settlement (its uuid and deliveries stay).
   */
  storage_update: {
    args: { appName: string; workerId: string; settlement: Settlement };
    replaces: { settlement: Settlement };
  };
  /** A finished task's outcome was written to its record. */
  storage_remove_finished_task: {
    args: { appName: string; workerId: string; settlement: Settlement };
    replaces: never;
  };
  /**
   * A task's record was marked running for a worker (a claim), before `broker_add_worker`: may
   * replace what the worker receives (its uuid, deliveries and isolation stay).
   */
  storage_add_process: {
    args: { appName: string; workerId: string; task: ClaimedTask };
    replaces: { task: ClaimedTask };
  };
  /** Records of tasks whose leases had expired were put back in the queue (or ended). */
  storage_running_older_tasks: {
    args: { appName: string; workerId: string; recovered: number };
    replaces: never;
  };
  /** `storage.deleteFinished`, with the number of records deleted. */
  storage_delete_finished_tasks: { args: { appName: string; deleted: number }; replaces: never };
  /** `storage.flushAll`, after every record was deleted. */
  storage_flush_all: { args: { appName: string }; replaces: never };

  // ── globalConfig ──────────────────────────────────────────────────────────────────────────
  /** The GlobalConfig started (its heartbeat runs). */
  global_config_start: { args: { appName: string }; replaces: never };
  /** The GlobalConfig is stopping. */
  global_config_stop: { args: { appName: string }; replaces: never };
  /** `globalConfig.set`, before the value is stored: may replace the group, key and value. */
  global_config_set: {
    args: { appName: string; name: string; key: string; value: string };
    replaces: { name: string; key: string; value: string };
  };
  /** `globalConfig.get`: may replace the value read. */
  global_config_get: {
    args: { appName: string; name: string; key: string; result: string | undefined };
    replaces: { result: string | undefined };
  };
  /** `globalConfig.getAll`: may replace the group read. */
  global_config_get_all: {
    args: { appName: string; name: string; result: Record<string, string> };
    replaces: { result: Record<string, string> };
  };
  /** `globalConfig.getMatch`: may replace the entries found. */
  global_config_get_match: {
    args: { appName: string; name: string; pattern: string; result: Record<string, string> };
    replaces: { result: Record<string, string> };
  };
  /** The app's running status was written (each heartbeat) or removed (on stop). */
  global_config_set_status: {
    args: { appName: string; status: "running" | "stopped" };
    replaces: never;
  };

  // ── task executor (heard by app and worker plugins) ───────────────────────────────────────
  /** The task's middlewares are about to run (only for a task that has some). */
  task_executor_middlewares_execute: {
    args: {
      appName: string;
      taskName: string;
      uuid: string;
      position: "before" | "after";
      middlewares: number;
    };
    replaces: never;
  };
  /** Before the function is called: may replace its arguments. */
  task_executor_args_replace: {
    args: { appName: string; taskName: string; uuid: string; args: unknown[] };
    replaces: { args: unknown[] };
  };
  /** The function returned (a plain or async task): may replace its result. */
  task_executor_run_task: {
    args: { appName: string; taskName: string; uuid: string; result: unknown };
    replaces: { result: unknown };
  };
  /**
   * A generator task finished: may replace the list of values it yielded (`returned` is what
   * the generator returned, kept beside the list when not `undefined`).
   */
  task_executor_run_task_gen: {
    args: {
      appName: string;
      taskName: string;
      uuid: string;
      results: unknown[];
      returned: unknown;
    };
    replaces: { results: unknown[] };
  };
  /**
   * The task (or a plugin on another `task_executor_*` trigger) threw a TaskPluginTriggerError:
   * returning `{ result }` makes it the run's result (the after middlewares and decode still run); otherwise the task ends as `error`.
   */
  task_executor_run_task_trigger_error: {
    args: {
      appName: string;
      taskName: string;
      uuid: string;
      error: TaskPluginTriggerError;
      result: unknown;
    };
    replaces: { result: unknown };
  };
  /** After the middlewares, before the result is encoded as JSON for storage: may replace it. */
  task_executor_decode: {
    args: { appName: string; taskName: string; uuid: string; result: unknown };
    replaces: { result: unknown };
  };
  /** The run is over (any outcome): release what was opened for it. */
  task_executor_task_close: {
    args: {
      appName: string;
      taskName: string;
      uuid: string;
      status: "success" | "error" | "cancel";
    };
    replaces: never;
  };

  // ── starter (heard by app plugins) ────────────────────────────────────────────────────────
  /** Every component started. */
  starter_start: { args: { appName: string }; replaces: never };
  /** Every component stopped. */
  starter_stop: { args: { appName: string }; replaces: never };

  // ── worker ────────────────────────────────────────────────────────────────────────────────
  /** The worker started taking tasks. */
  worker_start: {
    args: { appName: string; workerId: string; concurrency: number };
    replaces: never;
  };
  /** The worker stopped (after its running tasks finished or were given back). */
  worker_stop: { args: { appName: string; workerId: string }; replaces: never };
  /**
   * The worker takes in a claimed task (it may wait for a free slot): may replace it (its uuid,
   * deliveries and isolation stay).
   */
  worker_add: {
    args: { appName: string; workerId: string; task: ClaimedTask };
    replaces: { task: ClaimedTask };
  };
  /** A task is about to start in a free slot: may replace it (its uuid, deliveries and isolation stay). */
  worker_execute_before: {
    args: { appName: string; workerId: string; task: ClaimedTask };
    replaces: { task: ClaimedTask };
  };
  /** The task's arguments were decoded, before the executor runs it: may replace them. */
  worker_run_task_before: {
    args: { appName: string; workerId: string; taskName: string; uuid: string; args: unknown[] };
    replaces: { args: unknown[] };
  };
  /** The task's run ended, with its outcome (before it is settled with the broker). */
  worker_execute_after: {
    args: {
      appName: string;
      workerId: string;
      taskName: string;
      uuid: string;
      outcome: TaskOutcome;
    };
    replaces: never;
  };
  /**
   * A run failed and will be retried (it had retries left and the error is retryable), before the
   * retry is settled: `attempt` is the attempt that failed (1 for the first run), `retriesLeft`
   * the retries left before this one, `delayMs` the backoff. May replace `retry` (`false`: no
   * retry, the task ends as `error`) and `delayMs`.
   */
  worker_task_error_retry: {
    args: {
      appName: string;
      workerId: string;
      taskName: string;
      uuid: string;
      error: TaskErrorInfo;
      attempt: number;
      retriesLeft: number;
      delayMs: number;
      retry: boolean;
    };
    replaces: { retry: boolean; delayMs: number };
  };
  /**
   * The worker hands a finished task's settlement to the broker: may replace it (its uuid and
   * deliveries stay).
   */
  worker_remove_finished_task: {
    args: { appName: string; workerId: string; settlement: Settlement };
    replaces: { settlement: Settlement };
  };
}

/**
 * The name of a trigger.
 *
 * @example
 * ```ts
 * import type { TriggerName } from "@qtasks/qtasks";
 *
 * const name: TriggerName = "qtasks_get";
 * ```
 */
export type TriggerName = keyof TriggerMap;

/**
 * What handlers of trigger `N` receive: its arguments, with the replaceable fields as the
 * previous plugin left them.
 *
 * @example
 * ```ts
 * import type { TriggerArgs } from "@qtasks/qtasks";
 *
 * const args: TriggerArgs<"qtasks_stop"> = { appName: "shop" };
 * ```
 */
export type TriggerArgs<N extends TriggerName> = TriggerMap[N]["args"];

/**
 * What a handler of trigger `N` may return: some of the fields it replaces (the others are kept),
 * or nothing to leave them as they are. Notify-only triggers take no return.
 *
 * @example
 * ```ts
 * import type { TriggerResult } from "@qtasks/qtasks/ports";
 *
 * const onlyPriority: TriggerResult<"qtasks_add_task_before_broker"> = { priority: 5 };
 * ```
 */
export type TriggerResult<N extends TriggerName> = [TriggerMap[N]["replaces"]] extends [never]
  ? void
  : Partial<TriggerMap[N]["replaces"]> | void;

/**
 * Where a trigger fires, and which fields its handlers may replace (an entry of
 * {@linkcode TRIGGERS}).
 *
 * @example
 * ```ts
 * import { type TriggerInfo, TRIGGERS } from "@qtasks/qtasks/ports";
 *
 * const info: TriggerInfo = TRIGGERS.broker_add_before;
 * console.log(info.component, info.replaces); // broker ["task"]
 * ```
 */
export interface TriggerInfo {
  /** The component that fires it. */
  readonly component: PluginComponent;
  /** The fields of its arguments a handler may replace by returning them. */
  readonly replaces: readonly string[];
  /** A plugin that throws on it fails the task (`task_executor_*`), instead of being skipped. */
  readonly failsTask?: boolean;
  /** Fields of the replaced object a plugin cannot change (the identity of a task or lease). */
  readonly pinned?: readonly string[];
}

const TASK_IDENTITY = ["uuid", "deliveries", "isolated"] as const;
const SETTLEMENT_IDENTITY = ["uuid", "deliveries"] as const;

/**
 * Every trigger by name: the component that fires it and the fields a handler may replace. The
 * runtime counterpart of {@linkcode TriggerMap}, used to check plugin options and to apply
 * returns.
 *
 * @example
 * ```ts
 * import { TRIGGERS } from "@qtasks/qtasks/ports";
 *
 * console.log(TRIGGERS.qtasks_get.replaces); // ["result"]
 * ```
 */
export const TRIGGERS: { readonly [N in TriggerName]: TriggerInfo } = {
  qtasks_add_task_before_broker: { component: "app", replaces: ["args", "priority", "extra"] },
  qtasks_add_task_after_broker: { component: "app", replaces: [] },
  qtasks_get: { component: "app", replaces: ["result"] },
  qtasks_stop: { component: "app", replaces: [] },
  qtasks_ping: { component: "app", replaces: [] },
  qtasks_flush_all: { component: "app", replaces: [] },
  broker_start: { component: "broker", replaces: [] },
  broker_stop: { component: "broker", replaces: [] },
  broker_listen_start: { component: "broker", replaces: [] },
  broker_add_before: { component: "broker", replaces: ["task"], pinned: ["uuid"] },
  broker_add_after: { component: "broker", replaces: [] },
  broker_add_worker: { component: "broker", replaces: ["task"], pinned: TASK_IDENTITY },
  broker_get: { component: "broker", replaces: ["result"] },
  broker_update: { component: "broker", replaces: ["reason"] },
  broker_remove_finished_task: {
    component: "broker",
    replaces: ["settlement"],
    pinned: SETTLEMENT_IDENTITY,
  },
  broker_running_older_tasks: { component: "broker", replaces: [] },
  broker_flush_all: { component: "broker", replaces: [] },
  storage_start: { component: "storage", replaces: [] },
  storage_stop: { component: "storage", replaces: [] },
  storage_add: { component: "storage", replaces: ["extra"] },
  storage_get: { component: "storage", replaces: ["result"] },
  storage_get_all: { component: "storage", replaces: ["results"] },
  storage_update: { component: "storage", replaces: ["settlement"], pinned: SETTLEMENT_IDENTITY },
  storage_remove_finished_task: { component: "storage", replaces: [] },
  storage_add_process: { component: "storage", replaces: ["task"], pinned: TASK_IDENTITY },
  storage_running_older_tasks: { component: "storage", replaces: [] },
  storage_delete_finished_tasks: { component: "storage", replaces: [] },
  storage_flush_all: { component: "storage", replaces: [] },
  global_config_start: { component: "globalConfig", replaces: [] },
  global_config_stop: { component: "globalConfig", replaces: [] },
  global_config_set: { component: "globalConfig", replaces: ["name", "key", "value"] },
  global_config_get: { component: "globalConfig", replaces: ["result"] },
  global_config_get_all: { component: "globalConfig", replaces: ["result"] },
  global_config_get_match: { component: "globalConfig", replaces: ["result"] },
  global_config_set_status: { component: "globalConfig", replaces: [] },
  task_executor_middlewares_execute: { component: "worker", replaces: [], failsTask: true },
  task_executor_args_replace: { component: "worker", replaces: ["args"], failsTask: true },
  task_executor_run_task: { component: "worker", replaces: ["result"], failsTask: true },
  task_executor_run_task_gen: { component: "worker", replaces: ["results"], failsTask: true },
  task_executor_run_task_trigger_error: {
    component: "worker",
    replaces: ["result"],
    failsTask: true,
  },
  task_executor_decode: { component: "worker", replaces: ["result"], failsTask: true },
  task_executor_task_close: { component: "worker", replaces: [] },
  starter_start: { component: "app", replaces: [] },
  starter_stop: { component: "app", replaces: [] },
  worker_start: { component: "worker", replaces: [] },
  worker_stop: { component: "worker", replaces: [] },
  worker_add: { component: "worker", replaces: ["task"], pinned: TASK_IDENTITY },
  worker_execute_before: { component: "worker", replaces: ["task"], pinned: TASK_IDENTITY },
  worker_run_task_before: { component: "worker", replaces: ["args"] },
  worker_execute_after: { component: "worker", replaces: [] },
  worker_task_error_retry: { component: "worker", replaces: ["retry", "delayMs"] },
  worker_remove_finished_task: {
    component: "worker",
    replaces: ["settlement"],
    pinned: SETTLEMENT_IDENTITY,
  },
};

/**
 * The messages between a {@linkcode ThreadPool} (the owner) and its threads (`pool_thread.ts`).
 * Everything crosses by structured clone; errors as {@linkcode ThreadErrorData}.
 *
 * @module
 */
import type { TaskErrorInfo } from "../../model/task_record.ts";
import type { ThreadErrorData } from "./_thread_error.ts";

/**
 * Owner → thread: load the module (first message), run a task, abort one, answer a call, close.
 *
 * @example
 * ```ts
 * import type { ToThread } from "./_pool_protocol.ts";
 *
 * const message: ToThread = { type: "abort", id: 7, reason: { info: { type: "Error", message: "stop" } } };
 * ```
 */
export type ToThread =
  | { type: "init"; module: string; exportName: string | undefined }
  | {
    type: "run";
    id: number;
    taskName: string;
    uuid: string;
    priority: number;
    args: unknown[];
    deliveries: number;
    attempt: number;
    appName: string;
    workerId: string;
  }
  | { type: "abort"; id: number; reason: ThreadErrorData }
  | { type: "reply"; call: number; ok: true; value: unknown }
  | { type: "reply"; call: number; ok: false; error: ThreadErrorData }
  | { type: "close" };

/**
 * How a run ended in the thread: a {@linkcode TaskOutcome} with what was thrown as data.
 *
 * @example
 * ```ts
 * import type { ThreadOutcome } from "./_pool_protocol.ts";
 *
 * const outcome: ThreadOutcome = { status: "success", returning: "42" };
 * ```
 */
export type ThreadOutcome =
  | { status: "success"; returning: string }
  | { status: "error"; error: TaskErrorInfo; thrown?: ThreadErrorData }
  | { status: "cancel"; reason: string };

/**
 * Thread → owner: loaded (or not), a run ended, a task context asks the owner's broker, an
 * uncaught exception, the thread is about to end by itself, closed.
 *
 * @example
 * ```ts
 * import type { FromThread } from "./_pool_protocol.ts";
 *
 * const message: FromThread = { type: "done", id: 7, outcome: { status: "cancel", reason: "" } };
 * ```
 */
export type FromThread =
  | { type: "ready" }
  | { type: "load-error"; error: ThreadErrorData }
  | { type: "done"; id: number; outcome: ThreadOutcome }
  | { type: "call"; call: number; id: number; op: "get"; uuid: string }
  | {
    type: "call";
    call: number;
    id: number;
    op: "progress";
    workerId: string;
    uuid: string;
    deliveries: number;
    json: string;
  }
  | {
    type: "call";
    call: number;
    id: number;
    op: "log";
    workerId: string;
    uuid: string;
    deliveries: number;
    line: string;
    maxLines: number;
    maxBytes: number;
  }
  | { type: "crash"; error: ThreadErrorData }
  | { type: "exit" }
  | { type: "closed" };

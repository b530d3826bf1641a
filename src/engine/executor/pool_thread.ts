/**
 * The entry module of a pool thread, started by {@linkcode ThreadPool}: imports the task module,
 * finds its app (a `QueueTasks`), starts the app's `app` and `worker` plugins, and runs
 * the tasks the pool sends by name, through the app's own registry, middlewares and plugins with
 * the {@linkcode AsyncTaskExecutor} (dependencies opened here). A task context's `metadata`,
 * `getTask` and `progress` ask the owner's broker by message. Never import it yourself.
 *
 * @module
 */
import "../../runtime/adapters.ts";
import type { WorkerHost } from "../../ports/worker.ts";
import type { Broker } from "../../ports/broker.ts";
import { TaskCancelError } from "../../model/errors/task_cancel_error.ts";
import { UnknownTaskError } from "../../model/errors/unknown_task_error.ts";
import { AsyncTaskExecutor } from "./async_task_executor.ts";
import type { TaskOutcome, TaskRun } from "../../ports/task_executor.ts";
import type { TaskMiddleware } from "../../plugins/task_middleware.ts";
import { getThreadFactory, type ThreadPort } from "../../ports/thread_factory.ts";
import { executeInjected } from "./_dependency_resolver.ts";
import { describeError } from "../../model/task_codec.ts";
import type { TaskServices } from "../../ports/task_context.ts";
import type { TaskRecord } from "../../model/task_record.ts";
import type { FromThread, ThreadOutcome, ToThread } from "./_pool_protocol.ts";
import { markPoolThread } from "./pool_thread_flag.ts";
import { encodeThreadError, rebuildThreadError } from "./_thread_error.ts";

markPoolThread();

const port: ThreadPort | undefined = getThreadFactory().port();
if (port === undefined) {
  throw new Error("pool_thread.ts runs only in a thread started by a ThreadPool");
}
const owner: ThreadPort = port;

/** The parts of an app the thread uses (checked by shape: another copy of QTasks works too). */
type ThreadApp =
  & Pick<WorkerHost, "name" | "tasks" | "config" | "logger">
  & Required<Pick<WorkerHost, "plugins" | "middlewaresBefore" | "middlewaresAfter">>;

function post(message: FromThread): void {
  owner.post(message);
}

// A thread that closes itself says so first (Deno reports nothing to the owner otherwise).
const scope = globalThis as { close?: () => void };
if (typeof scope.close === "function") {
  const close = scope.close.bind(globalThis);
  scope.close = () => {
    post({ type: "exit" });
    close();
  };
}

// Likewise a task that calls `Deno.exit()` or `process.exit()` (Deno tells the owner nothing).
owner.onExit?.(() => post({ type: "exit" }));

// Where the runtime reports them in the thread (Deno, Bun), an uncaught exception or unhandled
// rejection is reported by the thread itself, as data (the owner then terminates it); Node reports
// them to the owner through the thread's `error` event.
const events = globalThis as {
  addEventListener?: (type: string, listener: (event: Event) => void) => void;
};
if (typeof events.addEventListener === "function") {
  events.addEventListener("error", (event) => {
    event.preventDefault();
    const error = (event as ErrorEvent).error ?? new Error((event as ErrorEvent).message);
    post({ type: "crash", error: encodeThreadError(error) });
  });
  events.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    post({ type: "crash", error: encodeThreadError((event as PromiseRejectionEvent).reason) });
  });
}

function isApp(value: unknown): value is ThreadApp {
  if (value === null || typeof value !== "object") return false;
  const app = value as Partial<Record<keyof ThreadApp, unknown>>;
  return app.tasks instanceof Map && typeof app.name === "string" &&
    typeof app.plugins === "object" && app.plugins !== null && typeof app.config === "object" &&
    typeof app.logger === "object";
}

function findApp(exports: Record<string, unknown>, exportName: string | undefined): ThreadApp {
  if (exportName !== undefined) {
    const value = exports[exportName];
    if (!isApp(value)) {
      throw new TypeError(
        `The task module has no QueueTasks app exported as "${exportName}" (its exports: ${
          Object.keys(exports).join(", ") || "none"
        })`,
      );
    }
    return value;
  }
  if (isApp(exports.default)) return exports.default;
  const apps = Object.entries(exports).filter(([, value]) => isApp(value));
  if (apps.length === 1) return apps[0][1] as ThreadApp;
  throw new TypeError(
    apps.length === 0
      ? "The task module exports no QueueTasks app: export it (as default, or name it with exportName)"
      : `The task module exports several QueueTasks apps (${
        apps.map(([name]) => name).join(", ")
      }): choose one with exportName`,
  );
}

let app: ThreadApp | undefined;
const executor = new AsyncTaskExecutor();
const runs = new Map<number, AbortController>();
const calls = new Map<number, { resolve(value: unknown): void; reject(error: unknown): void }>();
let nextCall = 0;

function ask(message: FromThread & { type: "call" }): Promise<unknown> {
  return new Promise((resolve, reject) => {
    calls.set(message.call, { resolve, reject });
    post(message);
  });
}

/** The task context's broker: asks the owner's. */
function remoteBroker(id: number): Pick<Broker, "get" | "reportProgress" | "appendLog"> {
  return {
    get: (uuid) =>
      ask({ type: "call", call: ++nextCall, id, op: "get", uuid }) as Promise<
        TaskRecord | undefined
      >,
    reportProgress: (workerId, uuid, deliveries, json) =>
      ask({
        type: "call",
        call: ++nextCall,
        id,
        op: "progress",
        workerId,
        uuid,
        deliveries,
        json,
      }) as Promise<boolean>,
    appendLog: (workerId, uuid, deliveries, line, caps) =>
      ask({
        type: "call",
        call: ++nextCall,
        id,
        op: "log",
        workerId,
        uuid,
        deliveries,
        line,
        maxLines: caps.maxLines,
        maxBytes: caps.maxBytes,
      }) as Promise<boolean>,
  };
}

function join(
  appWide: readonly TaskMiddleware[],
  own: readonly TaskMiddleware[] | undefined,
): readonly TaskMiddleware[] {
  if (appWide.length === 0) return own ?? [];
  if (own === undefined || own.length === 0) return appWide;
  return [...appWide, ...own];
}

function encodeOutcome(outcome: TaskOutcome): ThreadOutcome {
  if (outcome.status !== "error") return outcome;
  const encoded: ThreadOutcome = { status: "error", error: outcome.error };
  if (outcome.thrown !== undefined) encoded.thrown = encodeThreadError(outcome.thrown);
  return encoded;
}

async function run(message: ToThread & { type: "run" }, loaded: ThreadApp): Promise<void> {
  const controller = new AbortController();
  runs.set(message.id, controller);
  let outcome: TaskOutcome;
  try {
    const definition = loaded.tasks.get(message.taskName);
    if (definition === undefined) {
      const thrown = new UnknownTaskError(message.taskName);
      outcome = { status: "error", error: describeError(thrown), thrown };
    } else {
      const services: TaskServices = {
        broker: remoteBroker(message.id),
        config: loaded.config,
        logger: loaded.logger,
      };
      const taskRun: TaskRun = {
        definition,
        uuid: message.uuid,
        priority: message.priority,
        args: message.args,
        deliveries: message.deliveries,
        attempt: message.attempt,
        signal: controller.signal,
        appName: message.appName,
        workerId: message.workerId,
        plugins: loaded.plugins,
        middlewaresBefore: join(loaded.middlewaresBefore, definition.middlewaresBefore),
        middlewaresAfter: join(loaded.middlewaresAfter, definition.middlewaresAfter),
        services,
      };
      outcome = await (definition.inject === undefined
        ? executor.execute(taskRun)
        : executeInjected(executor, taskRun));
    }
  } catch (thrown) {
    outcome = thrown instanceof TaskCancelError
      ? { status: "cancel", reason: thrown.reason }
      : { status: "error", error: describeError(thrown), thrown };
  } finally {
    runs.delete(message.id);
  }
  post({ type: "done", id: message.id, outcome: encodeOutcome(outcome) });
}

async function init(message: ToThread & { type: "init" }): Promise<void> {
  try {
    const exports = await import(message.module) as Record<string, unknown>;
    const found = findApp(exports, message.exportName);
    await found.plugins.start("app");
    await found.plugins.start("worker");
    app = found;
  } catch (error) {
    post({ type: "load-error", error: encodeThreadError(error) });
    return;
  }
  post({ type: "ready" });
}

async function close(): Promise<void> {
  try {
    await app?.plugins.stop("worker");
    await app?.plugins.stop("app");
  } finally {
    post({ type: "closed" });
  }
}

owner.listen((data) => {
  const message = data as ToThread;
  switch (message.type) {
    case "init":
      void init(message);
      break;
    case "run":
      if (app === undefined) throw new Error("A pool thread got a task before it was loaded");
      void run(message, app);
      break;
    case "abort":
      runs.get(message.id)?.abort(rebuildThreadError(message.reason));
      break;
    case "reply": {
      const pending = calls.get(message.call);
      if (pending === undefined) break;
      calls.delete(message.call);
      if (message.ok) pending.resolve(message.value);
      else pending.reject(rebuildThreadError(message.error));
      break;
    }
    case "close":
      void close();
      break;
  }
});

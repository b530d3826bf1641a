import type { Broker } from "./broker.ts";
import { parseQueueConfig, type QueueConfig } from "../model/queue_config.ts";
import { InvalidPayloadError } from "../model/errors/invalid_payload_error.ts";
import { TaskCancelError } from "../model/errors/task_cancel_error.ts";
import { createLogger, type Logger } from "../model/logger.ts";
import { encodeJson } from "../model/task_codec.ts";
import type { TaskRecord } from "../model/task_record.ts";
import type { TaskLogLevel } from "../model/task_query.ts";
import { checkLogLevel, encodeLogLine } from "../model/_task_log.ts";

/**
 * What a task function receives as its first argument when it is registered with `echo: true`:
 * who it is, its signal, the app's logger and config, its record, and ways to sleep, cancel
 * itself and report progress.
 *
 * @example
 * ```ts
 * import { QueueTasks, type TaskContext } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-context" });
 * const resize = app.task(
 *   { name: "resize", echo: true, maxTime: 5_000 },
 *   async (ctx: TaskContext, images: number) => {
 *     for (let done = 1; done <= images; done++) {
 *       await ctx.sleep(1); // rejects at once on maxTime, cancel or shutdown
 *       await ctx.progress({ done, total: images }); // producers read it: job.progress()
 *     }
 *     ctx.logger.info(`resized ${images} images`);
 *     return (await ctx.metadata()).deliveries;
 *   },
 * );
 * await app.start();
 * const job = await resize.addTask(3);
 * console.log(await job.value(), await job.progress()); // 1 { done: 3, total: 3 }
 * await app.stop();
 * ```
 */
export interface TaskContext {
  /** The registered task name. */
  readonly taskName: string;
  /** The id of this task. */
  readonly taskUuid: string;
  /** Its priority. */
  readonly priority: number;
  /** Which attempt this is: 1 on the first run, then 2, 3, … on its retries (option `retry`). */
  readonly attempt: number;
  /** How many times this attempt was claimed: 1, higher when a worker died holding it. */
  readonly deliveries: number;
  /**
   * Aborts when maxTime is exceeded (`TaskTimeoutError`), the task is cancelled
   * (`TaskCancelError`), the worker shuts down, or the lease is lost. Pass it on to `fetch` and
   * the like.
   */
  readonly signal: AbortSignal;
  /**
   * The app's logger, labelled with the task's name and uuid when it supports `child` (the
   * default logger does: `task=send_email uuid=…`).
   */
  readonly logger: Logger;
  /** The app's config. */
  readonly config: QueueConfig;
  /**
   * Reads this task's own record (status `process`, args, deliveries, progress, extra fields).
   *
   * @throws {Error} When the record no longer exists (flushed, or a local `handle.call()`).
   */
  metadata(): Promise<TaskRecord>;
  /** Reads another task's record (`undefined` if unknown or expired). */
  getTask(uuid: string): Promise<TaskRecord | undefined>;
  /**
   * Resolves after `ms` milliseconds; rejects with the signal's reason as soon as the signal
   * aborts (maxTime, cancel, shutdown), so a sleeping task stops at once.
   *
   * @throws {RangeError} When `ms` is not a non-negative number.
   */
  sleep(ms: number): Promise<void>;
  /**
   * Ends the task as `cancel` with this reason: throws a `TaskCancelError` (do not catch it).
   */
  cancel(reason?: string): never;
  /**
   * Reports progress: any JSON value (`42`, `{ done: 3, total: 10 }`), stored on the record
   * (`record.progress`, `job.progress()`) at once, replacing the previous one. Resolves `true`
   * once stored, `false` when this run no longer owns the task (its lease was lost, or it was
   * already settled: nothing is written). One backend write per call: report at a human pace.
   *
   * @throws {InvalidPayloadError} When the value is not JSON or is larger than `maxPayloadBytes`.
   */
  progress(value: unknown): Promise<boolean>;
  /**
   * Appends a line to this task's log, kept on its record (capped by `taskLogMaxLines` and
   * `taskLogMaxBytes`: the oldest lines are dropped, and a marker line says how many) and read
   * with `app.ops.logs(uuid)` or `qtasks logs <uuid>`. Resolves `true` once stored, `false` when
   * this run no longer owns the task or the backend keeps no logs. One backend write per call.
   * Works from a pool thread too.
   *
   * @param message The text.
   * @param level `debug`, `info` (default), `warn` or `error`.
   * @throws {TypeError} When the level is not one of those.
   */
  log(message: string, level?: TaskLogLevel): Promise<boolean>;
}

/**
 * What a worker gives the executor so that it can build a {@linkcode TaskContext}: the broker
 * (records and progress), the app's config and logger. One object per worker, shared by its runs.
 *
 * @example
 * ```ts
 * import { createLogger, parseQueueConfig } from "@qtasks/qtasks";
 * import { MemoryBroker } from "@qtasks/qtasks/memory";
 * import type { TaskServices } from "@qtasks/qtasks/ports";
 *
 * const services: TaskServices = {
 *   broker: new MemoryBroker(),
 *   config: parseQueueConfig({}),
 *   logger: createLogger("info"),
 * };
 * ```
 */
export interface TaskServices {
  /**
   * Where the task's record lives, and where its progress goes: a Broker, or anything with its
   * `get` and `reportProgress` (a pool thread's stand-in, which asks the main thread's broker).
   */
  readonly broker: Pick<Broker, "get" | "reportProgress" | "appendLog">;
  /** The app's config. */
  readonly config: QueueConfig;
  /** The app's logger. */
  readonly logger: Logger;
}

/**
 * Everything {@linkcode createTaskContext} needs about one run.
 *
 * @example
 * ```ts
 * import type { TaskContextInit } from "@qtasks/qtasks/ports";
 *
 * const init: TaskContextInit = {
 *   taskName: "resize",
 *   uuid: crypto.randomUUID(),
 *   priority: 0,
 *   deliveries: 1,
 *   workerId: "w1",
 *   signal: new AbortController().signal,
 * };
 * ```
 */
export interface TaskContextInit {
  /** The registered task name. */
  readonly taskName: string;
  /** The task's id. */
  readonly uuid: string;
  /** Its priority. */
  readonly priority: number;
  /** Which delivery this is: with `workerId`, the lease that progress reports need. */
  readonly deliveries: number;
  /** Which attempt this is (retries; default 1). */
  readonly attempt?: number;
  /** The worker that runs it. */
  readonly workerId: string;
  /** The run's signal (with maxTime: the one that also aborts on time). */
  readonly signal: AbortSignal;
  /**
   * The broker, config and logger. Without them, `config` is the defaults, `logger` the console,
   * and `metadata`, `getTask` and `progress` reject.
   */
  readonly services?: TaskServices;
}

/**
 * Builds the {@linkcode TaskContext} of one run: the one place contexts are made (the executor
 * for `echo` tasks, and `handle.call()`). The logger and config are resolved on first use.
 *
 * @param init The run.
 * @returns Its context.
 *
 * @example
 * ```ts
 * import { createTaskContext } from "@qtasks/qtasks/ports";
 *
 * const controller = new AbortController();
 * const ctx = createTaskContext({
 *   taskName: "resize",
 *   uuid: crypto.randomUUID(),
 *   priority: 0,
 *   deliveries: 1,
 *   workerId: "w1",
 *   signal: controller.signal,
 * });
 * const nap = ctx.sleep(60_000);
 * controller.abort(new Error("stop"));
 * await nap.catch((error) => console.log(error.message)); // "stop"
 * ```
 */
export function createTaskContext(init: TaskContextInit): TaskContext {
  return new RunContext(init);
}

let defaultConfig: QueueConfig | undefined;
let defaultLogger: Logger | undefined;

class RunContext implements TaskContext {
  readonly taskName: string;
  readonly taskUuid: string;
  readonly priority: number;
  readonly attempt: number;
  readonly deliveries: number;
  readonly signal: AbortSignal;
  #workerId: string;
  #services: TaskServices | undefined;
  #logger: Logger | undefined;

  constructor(init: TaskContextInit) {
    this.taskName = init.taskName;
    this.taskUuid = init.uuid;
    this.priority = init.priority;
    this.attempt = init.attempt ?? 1;
    this.deliveries = init.deliveries;
    this.signal = init.signal;
    this.#workerId = init.workerId;
    this.#services = init.services;
  }

  get logger(): Logger {
    if (this.#logger === undefined) {
      const logger = this.#services?.logger ?? (defaultLogger ??= createLogger("info"));
      this.#logger = typeof logger.child === "function"
        ? logger.child({ task: this.taskName, uuid: this.taskUuid })
        : logger;
    }
    return this.#logger;
  }

  get config(): QueueConfig {
    return this.#services?.config ?? (defaultConfig ??= parseQueueConfig({}));
  }

  async metadata(): Promise<TaskRecord> {
    const record = await this.#broker("read its record").get(this.taskUuid);
    if (record === undefined) {
      throw new Error(
        `Cannot read the record of task "${this.taskName}" (${this.taskUuid}): it does not exist (expired, flushed, or run by handle.call())`,
      );
    }
    return record;
  }

  getTask(uuid: string): Promise<TaskRecord | undefined> {
    if (typeof uuid !== "string" || uuid === "") {
      return Promise.reject(
        new TypeError(
          `Task "${this.taskName}" cannot read a task: uuid must be a non-empty string`,
        ),
      );
    }
    try {
      return this.#broker("read another task").get(uuid);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  sleep(ms: number): Promise<void> {
    if (typeof ms !== "number" || !(ms >= 0) || ms === Infinity) {
      return Promise.reject(
        new RangeError(
          `Task "${this.taskName}" cannot sleep: ms must be a non-negative number, got ${
            String(ms)
          }`,
        ),
      );
    }
    const signal = this.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  cancel(reason = ""): never {
    throw new TaskCancelError(String(reason));
  }

  progress(value: unknown): Promise<boolean> {
    try {
      const json = encodeJson(value, `progress of task "${this.taskName}"`);
      const limit = this.config.maxPayloadBytes;
      if (json.length * 3 > limit) {
        const bytes = new TextEncoder().encode(json).length;
        if (bytes > limit) {
          throw new InvalidPayloadError(
            `Cannot report the progress of task "${this.taskName}": it takes ${bytes} bytes, over maxPayloadBytes (${limit})`,
          );
        }
      }
      return this.#broker("report progress").reportProgress(
        this.#workerId,
        this.taskUuid,
        this.deliveries,
        json,
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  log(message: string, level?: TaskLogLevel): Promise<boolean> {
    try {
      const line = encodeLogLine(Date.now(), checkLogLevel(level), String(message));
      const broker = this.#broker("log");
      if (!broker.appendLog) return Promise.resolve(false);
      return broker.appendLog(this.#workerId, this.taskUuid, this.deliveries, line, {
        maxLines: this.config.taskLogMaxLines,
        maxBytes: this.config.taskLogMaxBytes,
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #broker(what: string): Pick<Broker, "get" | "reportProgress" | "appendLog"> {
    const broker = this.#services?.broker;
    if (broker === undefined) {
      throw new TypeError(
        `Task "${this.taskName}" cannot ${what}: its run has no broker (TaskRun.services is not set)`,
      );
    }
    return broker;
  }
}

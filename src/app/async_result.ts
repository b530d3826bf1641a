import { ResultTimeoutError } from "../model/errors/result_timeout_error.ts";
import { TaskFailedError } from "../model/errors/task_failed_error.ts";
import { TaskNotFoundError } from "../model/errors/task_not_found_error.ts";
import type { TaskStatus } from "../model/task_status.ts";
import type { TaskRecord } from "../model/task_record.ts";
import type { Storage } from "../ports/storage.ts";
import type { CancelOutcome } from "../ports/broker.ts";

/**
 * Options of {@linkcode AsyncResult.result} and {@linkcode AsyncResult.value}.
 *
 * @example
 * ```ts
 * import type { ResultOptions } from "@qtasks/qtasks";
 *
 * const options: ResultOptions = { timeoutMs: 5_000 };
 * ```
 */
export interface ResultOptions {
  /** How long to wait; default 100 000 ms (QTasks' 100 s). `Infinity` waits forever. */
  timeoutMs?: number;
  /** Stop waiting when this aborts (rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Statuses to wait for instead of `resultStatusesEnd` (`["process"]`: until it runs). */
  statuses?: readonly TaskStatus[];
}

/**
 * What an {@linkcode AsyncResult} can ask of its app.
 *
 * @example
 * ```ts
 * import type { AsyncResultControl } from "./async_result.ts";
 *
 * const control: AsyncResultControl = { cancel: () => Promise.resolve("missing") };
 * ```
 */
export interface AsyncResultControl {
  /**
   * Cancels the task: the one of the asking {@linkcode AsyncResult}, whose uuid comes second (so
   * one control may serve many results).
   */
  cancel(reason: string, uuid: string): Promise<CancelOutcome>;
  /** The app's name, for messages. */
  appName?: string;
  /**
   * Whether a worker of the app has a live heartbeat (`undefined`: cannot tell). Asked only when
   * a wait lasts: once early (see `warnNoWorker`) and once when it times out.
   */
  workerRunning?(): Promise<boolean | undefined>;
  /** Warns (at most once in a while per app) that a wait goes on with no worker running. */
  warnNoWorker?(uuid: string): void;
  /** Set by `addTask` when a task with the chosen uuid existed already: nothing was stored. */
  duplicate?: boolean;
  /** Set by `addTask` when the call was deduplicated: the uuid is the joined task's. */
  deduplicated?: boolean;
}

/** The default wait of {@linkcode AsyncResult.result}, as in QTasks. */
const DEFAULT_RESULT_TIMEOUT_MS = 100_000;
/** How long a wait goes on before it asks whether a worker is running (at most half the wait). */
const WORKER_CHECK_AFTER_MS = 2_000;
/** Most retry links followed by one wait (a guard against a corrupted, circular chain). */
const MAX_RETRY_LINKS = 10_000;

/**
 * A handle on an enqueued task: its uuid and ways to await its outcome. Waiting is event-driven
 * (Redis pub/sub, or in-process events): it wakes within milliseconds of completion.
 *
 * @typeParam R The task function's (awaited) return type.
 *
 * @example
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-result" });
 * const add = app.task("add", (a: number, b: number) => a + b);
 * await app.start();
 * const job = await add.addTask(2, 3);
 * const record = await job.result({ timeoutMs: 5_000 }); // TaskRecord<number>
 * const sum: number = await job.value();
 * console.log(record.status, sum); // "success" 5
 * await app.stop();
 * ```
 */
export class AsyncResult<R = unknown> {
  /** The task's id. */
  readonly uuid: string;
  /** The registered name it was enqueued under. */
  readonly taskName: string;
  /**
   * `true` when `addTask` was given a `uuid` (an idempotency key) under which a task existed
   * already: this call stored nothing, its arguments were dropped, and this handle follows the
   * existing task. `false` otherwise.
   */
  readonly duplicate: boolean;
  /**
   * `true` when `addTask` was given a `deduplication` whose id was held by another task: this
   * call added no task of its own, and this handle follows that task (`uuid` is its uuid; with
   * `debounce`, it runs with this call's arguments unless a later call replaces them again).
   * `false` otherwise. See docs/flow-control.md.
   */
  readonly deduplicated: boolean;
  #storage: Storage;
  #statuses: readonly TaskStatus[];
  #control: AsyncResultControl | undefined;

  /**
   * Creates a AsyncResult.
   *
   * @param uuid The task.
   * @param taskName Its name.
   * @param storage Where its record lives.
   * @param statuses Final statuses to wait for (the config's `resultStatusesEnd`).
   * @param control How to cancel the task (given by the app).
   */
  constructor(
    uuid: string,
    taskName: string,
    storage: Storage,
    statuses: readonly TaskStatus[],
    control?: AsyncResultControl,
  ) {
    this.uuid = uuid;
    this.taskName = taskName;
    this.#storage = storage;
    this.#statuses = statuses;
    this.#control = control;
    this.duplicate = control?.duplicate === true;
    this.deduplicated = control?.deduplicated === true;
  }

  /** Cancels the task: see `QueueTasks.cancel`. */
  cancel(reason = ""): Promise<CancelOutcome> {
    if (!this.#control) {
      return Promise.reject(
        new TypeError(`Cannot cancel task ${this.uuid}: no app to cancel it with`),
      );
    }
    return this.#control.cancel(reason, this.uuid);
  }

  /** Reads the record of this uuid now, whatever its status (a retried one: status `retry`). */
  async get(): Promise<TaskRecord<R> | undefined> {
    return await this.#storage.get(this.uuid) as TaskRecord<R> | undefined;
  }

  /**
   * Reads the progress the task reported last (`ctx.progress(value)` in an `echo` task), or
   * `undefined` when it reported none (or the task is unknown). It stays on the record once the
   * task has finished.
   *
   * @typeParam P What the task reports (a JSON value; not checked).
   *
   * @example
   * ```ts
   * import { QueueTasks, type TaskContext } from "@qtasks/qtasks";
   *
   * const app = new QueueTasks({ name: "docs-progress" });
   * const count = app.task({ name: "count", echo: true }, async (ctx: TaskContext, to: number) => {
   *   for (let done = 1; done <= to; done++) await ctx.progress({ done, total: to });
   *   return to;
   * });
   * await app.start();
   * const job = await count.addTask(3);
   * await job.result();
   * console.log(await job.progress<{ done: number; total: number }>()); // { done: 3, total: 3 }
   * await app.stop();
   * ```
   */
  async progress<P = unknown>(): Promise<P | undefined> {
    return (await this.#storage.get(this.uuid))?.progress as P | undefined;
  }

  /**
   * Calls `listener` with each progress value the task reports (`ctx.progress(value)` in an
   * `echo` task), pushed by the backend (Redis: the events channel; no polling), starting with the
   * value reported already, if any. It stops by itself once the task reaches a final status (after
   * delivering the last value), when `signal` aborts, or when the returned function is called.
   * Reports that come faster than they can be read are coalesced: the listener always gets the
   * latest value, never an older one after a newer. A listener that throws is logged with
   * `console.error` and keeps listening.
   *
   * @typeParam P What the task reports (a JSON value; not checked).
   * @returns Resolves once listening, with a function that stops it.
   * @throws {TypeError} When the storage cannot push changes (it has no `watchRecord`).
   *
   * @example
   * ```ts
   * import { QueueTasks, type TaskContext } from "@qtasks/qtasks";
   *
   * const app = new QueueTasks({ name: "docs-on-progress" });
   * const count = app.task({ name: "count", echo: true }, async (ctx: TaskContext, to: number) => {
   *   for (let done = 1; done <= to; done++) await ctx.progress(done / to);
   *   return to;
   * });
   * await app.start();
   * const job = await count.addTask(4);
   * await job.onProgress<number>((share) => console.log(`${share * 100}%`));
   * await job.result();
   * await app.stop();
   * ```
   */
  async onProgress<P = unknown>(
    listener: (progress: P) => void,
    options: { signal?: AbortSignal } = {},
  ): Promise<() => void> {
    const storage = this.#storage;
    const uuid = this.uuid;
    if (typeof listener !== "function") {
      throw new TypeError(`Cannot watch the progress of task ${uuid}: listener must be a function`);
    }
    if (storage.watchRecord === undefined) {
      throw new TypeError(
        `Cannot watch the progress of task ${uuid}: its storage cannot push changes (no watchRecord)`,
      );
    }
    const finals = this.#statuses as readonly string[];
    let stopped = false;
    let reading = false;
    let again = false;
    let delivered: string | undefined;
    let unwatch: () => void = () => {};
    const stop = () => {
      if (stopped) return;
      stopped = true;
      unwatch();
      options.signal?.removeEventListener("abort", stop);
    };
    const check = async (): Promise<void> => {
      if (reading) {
        again = true;
        return;
      }
      reading = true;
      try {
        do {
          again = false;
          const record = await storage.get(uuid);
          if (stopped) return;
          if (record?.progress !== undefined) {
            const text = JSON.stringify(record.progress);
            if (text !== delivered) {
              delivered = text;
              try {
                listener(record.progress as P);
              } catch (error) {
                console.error(`Progress listener of task ${uuid} failed:`, error);
              }
            }
          }
          if (record !== undefined && finals.includes(record.status)) stop();
        } while (again && !stopped);
      } catch (error) {
        console.error(`Cannot read the progress of task ${uuid}:`, error);
      } finally {
        reading = false;
      }
    };
    if (options.signal?.aborted) return () => {};
    options.signal?.addEventListener("abort", stop, { once: true });
    unwatch = await storage.watchRecord(uuid, (status) => {
      if (status === undefined || status === "progress" || finals.includes(status)) void check();
    });
    if (stopped) unwatch();
    else void check();
    return stop;
  }

  /**
   * Waits for a final status and returns the record (status, returning, error, timings).
   *
   * A task that failed and was retried has status `retry` and a `retryChildUuid`: unless
   * `statuses` names `retry`, the wait follows those links and resolves with the record of the
   * attempt that reached a wanted status (its `uuid` is that attempt's), all within `timeoutMs`.
   *
   * @throws {TaskNotFoundError} At once, when no record has this uuid (never enqueued in this
   *   app's backend, or expired or deleted).
   * @throws {ResultTimeoutError} When no final status is reached within `timeoutMs`; its message
   *   says when no worker of the app is running (and, when the wait lasts over 2 s with none,
   *   the app warns once early in the wait).
   */
  async result(options: ResultOptions = {}): Promise<TaskRecord<R>> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_RESULT_TIMEOUT_MS;
    if (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs) || timeoutMs < 0) {
      throw new RangeError(`Cannot wait for task ${this.uuid}: timeoutMs must be >= 0`);
    }
    const statuses = options.statuses ?? this.#statuses;
    // A retried attempt is followed to the next one, unless `retry` itself is awaited.
    const follow = !statuses.includes("retry");
    const awaited = follow ? [...statuses, "retry" as const] : statuses;
    const deadline = performance.now() + timeoutMs; // monotonic: a clock step changes nothing
    // The first read of the first record tells whether it exists: if not, stop waiting at once.
    const missing = new AbortController();
    let firstRead = true;
    const onRead = (found: TaskRecord | undefined) => {
      if (firstRead && found === undefined) missing.abort();
      firstRead = false;
    };
    const signal = options.signal
      ? AbortSignal.any([options.signal, missing.signal])
      : missing.signal;
    // A wait that lasts asks once whether any worker is there to run the task.
    const control = this.#control;
    let check: ReturnType<typeof setTimeout> | undefined;
    if (control?.workerRunning && control.warnNoWorker && timeoutMs >= 200) {
      check = setTimeout(() => {
        control.workerRunning!().then((running) => {
          if (running === false) control.warnNoWorker!(this.uuid);
        }, () => {});
      }, Math.min(WORKER_CHECK_AFTER_MS, timeoutMs / 2));
    }
    let uuid = this.uuid;
    let record: TaskRecord | undefined;
    try {
      for (let hops = 0; hops <= MAX_RETRY_LINKS; hops++) {
        record = await this.#storage.waitForStatus(uuid, {
          statuses: awaited,
          timeoutMs: Math.max(0, deadline - performance.now()),
          signal,
          onRead,
        });
        if (!follow || record?.status !== "retry") break;
        if (record.retryChildUuid === undefined) {
          // A retry record without its link (written elsewhere): wait for a wanted status only.
          record = await this.#storage.waitForStatus(uuid, {
            statuses,
            timeoutMs: Math.max(0, deadline - performance.now()),
            signal: options.signal,
          });
          break;
        }
        uuid = record.retryChildUuid;
      }
    } finally {
      if (check !== undefined) clearTimeout(check);
    }
    if (record && statuses.includes(record.status)) return record as TaskRecord<R>;
    options.signal?.throwIfAborted();
    if (missing.signal.aborted) {
      if (record === undefined) throw new TaskNotFoundError(this.uuid, control?.appName);
      // Stored between the first read and the last: wait for it after all.
      return await this.result({
        ...options,
        timeoutMs: Math.max(0, deadline - performance.now()),
      });
    }
    const workerRunning = await control?.workerRunning?.().catch(() => undefined);
    throw new ResultTimeoutError(this.uuid, timeoutMs, record?.status, {
      workerRunning,
      appName: control?.appName,
    });
  }

  /**
   * Waits for the task (following its retries, as {@linkcode AsyncResult.result} does) and returns
   * its return value.
   *
   * @throws {TaskFailedError} When it ended as `error` or `cancel`.
   * @throws {ResultTimeoutError} When it did not finish in time.
   */
  async value(options: ResultOptions = {}): Promise<R> {
    const record = await this.result(options);
    if (record.status !== "success") throw new TaskFailedError(record);
    return record.returning as R;
  }
}

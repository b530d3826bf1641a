import type { ComponentContext } from "./component_context.ts";
import type { GlobalConfig } from "./global_config.ts";
import type { TaskRecord } from "../model/task_record.ts";
import type { TaskStatus } from "../model/task_status.ts";

/**
 * Options of {@linkcode Storage.waitForStatus}.
 *
 * @example
 * ```ts
 * import type { WaitForStatusOptions } from "@qtasks/qtasks/ports";
 *
 * const options: WaitForStatusOptions = { statuses: ["success", "error", "cancel"], timeoutMs: 1000 };
 * ```
 */
export interface WaitForStatusOptions {
  /** Resolve once the record has one of these statuses. */
  statuses: readonly TaskStatus[];
  /** Give up after this many milliseconds. */
  timeoutMs: number;
  /** Give up when this signal aborts. */
  signal?: AbortSignal;
  /**
   * Called with each record read (`undefined`: no record), before it is checked: how a waiter
   * learns early that the record does not exist.
   */
  onRead?: (record: TaskRecord | undefined) => void;
}

/**
 * Options of {@linkcode Storage.getAll}.
 *
 * @example
 * ```ts
 * import type { GetAllOptions } from "@qtasks/qtasks/ports";
 *
 * const options: GetAllOptions = { limit: 100 };
 * ```
 */
export interface GetAllOptions {
  /** Read at most this many records (default 1000). */
  limit?: number;
}

/**
 * The Storage port: task records (status, result, error, timings). It holds the app's
 * GlobalConfig, if any. Implementations: {@linkcode MemoryStorage}, {@linkcode RedisStorage}.
 *
 * @example Read a record
 * ```ts
 * import { MemoryStorage } from "@qtasks/qtasks/memory";
 *
 * const storage = new MemoryStorage();
 * console.log(await storage.get("no-such-task")); // undefined
 * ```
 */
export interface Storage {
  /** The app name. */
  readonly name: string;
  /** Shared settings and heartbeats; may be absent. */
  readonly globalConfig: GlobalConfig | undefined;
  /** Starts the storage, then its GlobalConfig. */
  start(context: ComponentContext): Promise<void>;
  /**
   * Optional: takes what it needs from `context` without starting anything, then attaches
   * its GlobalConfig (the app calls it once, when it is created, also in a producer that never calls
   * `app.start()`; `start` gets the same context again). The app's plugins need no attach: the
   * trigger decorator takes them.
   */
  attach?(context: ComponentContext): void;
  /** Stops the storage, then its GlobalConfig. */
  stop(): Promise<void>;
  /** Reads one record. */
  get(uuid: string): Promise<TaskRecord | undefined>;
  /**
   * Reads every record of the app, oldest first (by `createdAt`): at most `limit` (default
   * 1000). Past the limit, which records are read is up to the backend (memory: the oldest;
   * Redis: the first its SCAN finds).
   *
   * @throws {RangeError} When `limit` is not a non-negative integer.
   */
  getAll(options?: GetAllOptions): Promise<TaskRecord[]>;
  /**
   * Resolves with the record as soon as its status is one of `statuses` (woken by the backend,
   * not by polling), or with the last record seen (possibly `undefined`) when the time is up.
   */
  waitForStatus(uuid: string, options: WaitForStatusOptions): Promise<TaskRecord | undefined>;
  /**
   * Optional: calls `onChange` whenever the record of `uuid` may have changed, its progress
   * included (with the new status when known, `"progress"` for a progress report), woken by the
   * backend; resolves once listening, with a function that stops it. `AsyncResult.onProgress`
   * needs it.
   */
  watchRecord?(uuid: string, onChange: (status?: string) => void): Promise<() => void>;
  /**
   * Optional: told by the app just before it stores a new task whose result may be awaited here
   * (never for a caller-chosen uuid). A storage that will hear every change of that record from
   * now on may let the first `waitForStatus` of it skip its first read (Redis does, while it
   * listens on its events channel); it must stay correct when no waiter ever comes.
   */
  expectRecord?(uuid: string): void;
  /** Deletes the records of finished tasks; returns how many. Never touches queued or running ones. */
  deleteFinished(): Promise<number>;
  /** Deletes every record of this app. */
  flushAll(): Promise<void>;
}

import type { TaskRecord } from "../model/task_record.ts";
import type { WaitForStatusOptions } from "./storage.ts";

/**
 * How a backend lets {@linkcode waitForRecord} read a record and hear about changes to it.
 *
 * @example
 * ```ts
 * import type { RecordSource } from "@qtasks/qtasks/ports";
 *
 * const never: RecordSource = { read: () => Promise.resolve(undefined), watch: () => () => {} };
 * ```
 */
export interface RecordSource {
  /** Reads the record now. */
  read(): Promise<TaskRecord | undefined>;
  /**
   * Calls `onChange` whenever the record may have changed, with the new status when known;
   * returns a function that stops it.
   */
  watch(onChange: (status?: string) => void): (() => void) | Promise<() => void>;
  /**
   * Set when the source is sure to hear every change of the record from before it was stored
   * (it was listening when the task was enqueued, and has not lost its connection since), so the
   * first read can wait for a change: it happens on the first change heard, or after this many
   * ms if none comes (a guard, should a notice be lost). Unset: read at once.
   */
  firstReadAfterMs?: number;
}

/**
 * Waits for a record to reach one of `options.statuses`, event-driven: it subscribes first,
 * then reads, then re-reads on each change notification, so no update can slip between the
 * read and the subscription (a source with `firstReadAfterMs` defers that first read until the
 * first change heard). Shared by the memory and Redis storages.
 *
 * @param options Statuses, timeout and abort signal.
 * @param source How to read and watch the record.
 * @returns The record in a wanted status, or the last one read when time ran out.
 *
 * @example
 * ```ts
 * import { waitForRecord } from "@qtasks/qtasks/ports";
 *
 * const record = await waitForRecord({ statuses: ["success"], timeoutMs: 10 }, {
 *   read: () => Promise.resolve(undefined),
 *   watch: () => () => {},
 * });
 * console.log(record); // undefined
 * ```
 */
export async function waitForRecord(
  options: WaitForStatusOptions,
  source: RecordSource,
): Promise<TaskRecord | undefined> {
  let wake: () => void = () => {};
  const deferMs = source.firstReadAfterMs;
  let dirty = deferMs === undefined;
  const onChange = (status?: string) => {
    // A known status that is not awaited needs no read (a claim, when waiting for the result).
    if (status !== undefined && !(options.statuses as readonly string[]).includes(status)) return;
    dirty = true;
    wake();
  };
  const unwatch = await source.watch(onChange);
  let expired = false;
  const onAbort = () => {
    expired = true;
    wake();
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  // One timer: it fires first for the deferred first read (if any, and due before the time
  // limit), then re-arms itself for the rest of the time limit.
  const limitAt = Number.isFinite(options.timeoutMs)
    ? performance.now() + Math.max(0, options.timeoutMs)
    : Infinity;
  let deferring = deferMs !== undefined && deferMs < options.timeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onTimer = () => {
    timer = undefined;
    if (deferring) {
      deferring = false;
      dirty = true;
      wake();
    }
    const left = limitAt - performance.now();
    if (left <= 0) onAbort();
    else if (left !== Infinity) timer = setTimeout(onTimer, left);
  };
  if (deferring) timer = setTimeout(onTimer, Math.max(0, deferMs!));
  else if (limitAt !== Infinity) timer = setTimeout(onTimer, Math.max(0, options.timeoutMs));
  let last: TaskRecord | undefined;
  try {
    while (!expired && !options.signal?.aborted) {
      if (dirty) {
        dirty = false;
        deferring = false; // a first read done (on a change heard): no deferred one needed
        last = await source.read();
        options.onRead?.(last);
        if (last && options.statuses.includes(last.status)) return last;
        continue;
      }
      await new Promise<void>((resolve) => wake = resolve);
      wake = () => {};
    }
    // Time is up: one last read, so the caller sees the current status.
    last = await source.read();
    return last;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    unwatch();
  }
}

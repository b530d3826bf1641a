import { BackendError } from "../model/errors/backend_error.ts";
import { Cron } from "croner";
import type { QueueTasks } from "../app/queue_tasks.ts";
import type { TaskHandle } from "../app/task_handle.ts";
import { UnknownTaskError } from "../model/errors/unknown_task_error.ts";
import type { GlobalConfig } from "../ports/global_config.ts";
import type { Logger } from "../model/logger.ts";
import { runUntilSignal } from "../engine/starter/run_until_signal.ts";
import type { RunForeverOptions } from "../engine/starter/starter.ts";
import { encodeJson } from "../model/task_codec.ts";
import { parseArgs } from "../model/task_schema.ts";
import { scheduleUuid, shortHash } from "./_schedule_uuid.ts";
import { type PublishedSchedule, SCHEDULES_GROUP } from "../model/published_schedule.ts";
import { systemClock, type TimerClock } from "../ports/timer_clock.ts";

/**
 * What a Timer does at start about the fires of a schedule missed while every timer was down:
 * `skip` them (default), or enqueue `once` (the latest missed fire, one task however many were
 * missed).
 *
 * @example
 * ```ts
 * import type { CatchUp } from "@qtasks/qtasks";
 *
 * const catchUp: CatchUp = "once";
 * ```
 */
export type CatchUp = "skip" | "once";

/**
 * A schedule of {@linkcode Timer.addTask}.
 *
 * @example
 * ```ts
 * import type { ScheduleOptions } from "@qtasks/qtasks";
 *
 * const everyMorning: ScheduleOptions<[string]> = {
 *   cron: "0 0 9 * * 1-5",
 *   args: ["daily"],
 *   timezone: "Europe/Berlin",
 *   catchUp: "once",
 * };
 * ```
 */
export interface ScheduleOptions<A extends unknown[] = unknown[]> {
  /**
   * A croner pattern: 5 fields (minute precision), 6 (seconds first, such as `*\/10 * * * * *`)
   * or 7 (a year last); also `@hourly`, `@daily`, `L`, `W`, `#`.
   */
  cron: string;
  /** The task's arguments (JSON values; checked against the task's schema). Default none. */
  args?: A;
  /** The task's priority (default: the task's own). */
  priority?: number;
  /**
   * An IANA time zone the pattern is read in, such as `Europe/Berlin` (default `UTC`, so that
   * timers on hosts in different zones agree on every fire).
   */
  timezone?: string;
  /** Fires missed while every timer was down: `skip` (default) or `once`. */
  catchUp?: CatchUp;
  /**
   * The schedule's id: what timer processes agree on (lock and last-fire keys, task uuids).
   * Default: the task name and a hash of the pattern, time zone, arguments and priority, the same
   * in every process that declares the same schedule.
   */
  id?: string;
}

/**
 * A schedule as the Timer holds it.
 *
 * @example
 * ```ts
 * import { QueueTasks, type ScheduleInfo, Timer } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-schedule-info" });
 * app.task("tick", () => "tock");
 * const timer = new Timer({ app });
 * timer.addTask("tick", { cron: "0 * * * *" });
 * const [info]: readonly ScheduleInfo[] = timer.schedules;
 * console.log(info.taskName, info.cron); // "tick" "0 * * * *"
 * ```
 */
export interface ScheduleInfo {
  /** The schedule's id. */
  readonly id: string;
  /** The task it enqueues. */
  readonly taskName: string;
  /** Its pattern. */
  readonly cron: string;
  /** Its time zone (`UTC` unless one was given). */
  readonly timezone: string | undefined;
  /** The task's arguments. */
  readonly args: readonly unknown[];
  /** The priority given, if any. */
  readonly priority: number | undefined;
  /** What it does about missed fires. */
  readonly catchUp: CatchUp;
  /** Its next fire (ms since the epoch) while the timer runs, else `undefined`. */
  readonly nextAt: number | undefined;
}

/**
 * One fire of a schedule, as {@linkcode Timer.tick} reports it.
 *
 * @example
 * ```ts
 * import type { TimerFire } from "@qtasks/qtasks";
 *
 * function describe(fire: TimerFire): string {
 *   return `${fire.taskName} at ${new Date(fire.fireAt).toISOString()}: ${fire.outcome}`;
 * }
 * ```
 */
export interface TimerFire {
  /** The schedule. */
  scheduleId: string;
  /** The task. */
  taskName: string;
  /** The fire time it stands for, ms since the epoch. */
  fireAt: number;
  /** The task's uuid (the same in every timer process). */
  uuid: string;
  /**
   * `enqueued` (by this timer; a task already stored under the fire's uuid is left as it is, not
   * enqueued twice), `claimed-elsewhere` (another timer took this fire), `skipped-late` (this
   * timer was too late for it), or `failed` (the enqueue failed; the fire is lost).
   */
  outcome: "enqueued" | "claimed-elsewhere" | "skipped-late" | "failed";
  /** It is the catch-up fire of `catchUp: "once"`, enqueued at start. */
  catchUp: boolean;
}

/**
 * Options of {@linkcode Timer}.
 *
 * @example
 * ```ts
 * import { QueueTasks, type TimerOptions } from "@qtasks/qtasks";
 *
 * const options: TimerOptions = { app: new QueueTasks({ name: "docs-timer-options" }), lockTtlMs: 600_000 };
 * ```
 */
export interface TimerOptions {
  /** The app whose tasks it enqueues; its GlobalConfig holds the locks and last fires. */
  app: QueueTasks;
  /** The clock (default the system clock); tests move their own. */
  clock?: TimerClock;
  /**
   * How long a fire's lock lives, in ms (default 10 minutes). A timer never fires a fire later
   * than half of it (it logs the skip), so a lagging timer cannot fire one twice.
   */
  lockTtlMs?: number;
  /** Called after each fire this timer handled, whatever its outcome. */
  onFire?: (fire: TimerFire) => void;
  /** Where to log (default the app's logger). */
  logger?: Logger;
}

interface Schedule {
  id: string;
  taskName: string;
  cron: string;
  timezone: string | undefined;
  args: unknown[];
  priority: number | undefined;
  catchUp: CatchUp;
  pattern: Cron;
  next: number | undefined;
}

/** The longest single wait: the loop re-reads the clock at least this often. */
const MAX_WAIT_MS = 60_000;
/** The GlobalConfig group of the last fire of each schedule. */
const LAST_FIRE_GROUP = "timer";

/**
 * Enqueues tasks on cron schedules (croner patterns, seconds included). Several timer processes
 * may run for availability: each fire is enqueued once across all of them. Before enqueueing a
 * fire, a timer claims it in the app's GlobalConfig (`claimOnce("timer:<schedule>:<fire ms>")`:
 * one `SET NX PX` in a Lua script that also records the schedule's last fire), and the task's
 * uuid is derived from the schedule and the fire time ({@linkcode scheduleUuid}), so even a
 * resent enqueue cannot make a second task.
 *
 * Fires missed while every timer was down are skipped, or, with `catchUp: "once"`, one task is
 * enqueued for them at start. A fire whose claim succeeded but whose enqueue failed (Redis down
 * past `backendTimeoutMs`) is logged and lost: at most once per fire.
 *
 * A Timer does not start the app's worker: run it in its own process (`qtasks timer
 * ./app.ts`, or `timer.runForever()`), or next to a worker (`timer.start()`, then
 * `app.runForever()`: the timer stops when the app stops).
 *
 * @example Every 10 seconds, and every weekday at 9:00 in Berlin
 * ```ts
 * import { QueueTasks, Timer } from "@qtasks/qtasks";
 *
 * const app = new QueueTasks({ name: "docs-timer" });
 * const report = app.task("report", (kind: string) => `report ${kind}`);
 * app.task("ping", () => "pong");
 *
 * const timer = new Timer({ app });
 * timer.addTask("ping", { cron: "*\/10 * * * * *" });
 * timer.addTask(report, { cron: "0 9 * * 1-5", args: ["daily"], timezone: "Europe/Berlin" });
 * await timer.start();
 * console.log(timer.schedules.length); // 2
 * await timer.stop();
 * ```
 */
export class Timer {
  /** The app whose tasks it enqueues. */
  readonly app: QueueTasks;
  /** Its clock. */
  readonly clock: TimerClock;
  /** How long a fire's lock lives, in ms. */
  readonly lockTtlMs: number;
  #logger: Logger;
  #onFire: ((fire: TimerFire) => void) | undefined;
  #schedules = new Map<string, Schedule>();
  #running = false;
  /** When the timer started (clock time). */
  #startedAt: number | undefined;
  #cancelWait: (() => void) | undefined;
  #ticking: Promise<unknown> = Promise.resolve();
  #offStopping: (() => void) | undefined;

  /**
   * Creates a Timer.
   *
   * @param options The app, and optionally a clock, the lock TTL, a fire listener and a logger.
   * @throws {TypeError} Without an app.
   * @throws {RangeError} For a lockTtlMs under 1 second.
   */
  constructor(options: TimerOptions) {
    if (!options || !options.app || typeof options.app.addTask !== "function") {
      throw new TypeError("Cannot create Timer: app is required (new Timer({ app }))");
    }
    const lockTtlMs = options.lockTtlMs ?? 600_000;
    if (!Number.isSafeInteger(lockTtlMs) || lockTtlMs < 1000) {
      throw new RangeError(
        `Cannot create Timer: lockTtlMs must be an integer >= 1000, got ${String(lockTtlMs)}`,
      );
    }
    this.app = options.app;
    this.clock = options.clock ?? systemClock;
    this.lockTtlMs = lockTtlMs;
    this.#logger = options.logger ?? options.app.logger;
    this.#onFire = options.onFire;
  }

  /** The schedules, in the order they were added. */
  get schedules(): readonly ScheduleInfo[] {
    return [...this.#schedules.values()].map((s) =>
      Object.freeze({
        id: s.id,
        taskName: s.taskName,
        cron: s.cron,
        timezone: s.timezone,
        args: s.args,
        priority: s.priority,
        catchUp: s.catchUp,
        nextAt: this.#running ? s.next : undefined,
      })
    );
  }

  /** Whether it runs (between `start` and `stop`). */
  get running(): boolean {
    return this.#running;
  }

  /**
   * Schedules a registered task (by name or handle). Returns the schedule's id. Added while the
   * timer runs, it takes effect at once.
   *
   * @throws {UnknownTaskError} When no task of that name is registered on the app.
   * @throws {TypeError} For an invalid cron pattern (the message names it), arguments that are
   *   not an array, an unknown `catchUp`, or an id used already.
   * @throws {RangeError} For an unknown time zone or a priority that is not an integer.
   * @throws {InvalidPayloadError} When the arguments cannot be encoded as JSON.
   * @throws {ValidationError} When the task's schema refuses the arguments.
   */
  addTask<A extends unknown[], R>(task: TaskHandle<A, R>, options: ScheduleOptions<A>): string;
  /** Schedules a task by its registered name (its arguments are not type-checked). */
  addTask(task: string, options: ScheduleOptions): string;
  addTask(task: string | { name: string }, options: ScheduleOptions): string {
    const taskName = typeof task === "string" ? task : task?.name;
    if (typeof taskName !== "string" || taskName === "") {
      throw new TypeError("Cannot schedule a task: give its name or its handle");
    }
    const definition = this.app.tasks.get(taskName);
    if (!definition) throw new UnknownTaskError(taskName);
    const context = `Cannot schedule task "${taskName}"`;
    if (!options || typeof options !== "object") {
      throw new TypeError(`${context}: options with a cron pattern are required`);
    }
    const { cron, priority } = options;
    // UTC unless given: every timer process reads the pattern alike, whatever its host's zone.
    const timezone = options.timezone ?? "UTC";
    if (typeof cron !== "string" || cron.trim() === "") {
      throw new TypeError(`${context}: cron must be a pattern string, got ${String(cron)}`);
    }
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    } catch {
      throw new RangeError(`${context}: unknown time zone "${String(timezone)}"`);
    }
    let pattern: Cron;
    try {
      pattern = new Cron(cron, { timezone, paused: true });
    } catch (error) {
      throw new TypeError(
        `${context}: invalid cron pattern "${cron}": ${
          (error as Error).message.replace(/^CronPattern: /, "")
        }`,
      );
    }
    if (priority !== undefined && !Number.isSafeInteger(priority)) {
      throw new RangeError(`${context}: priority must be an integer, got ${String(priority)}`);
    }
    const catchUp = options.catchUp ?? "skip";
    if (catchUp !== "skip" && catchUp !== "once") {
      throw new TypeError(`${context}: catchUp must be "skip" or "once", got ${String(catchUp)}`);
    }
    const args = options.args ?? [];
    if (!Array.isArray(args)) throw new TypeError(`${context}: args must be an array`);
    const encoded = encodeJson(args, `arguments of task "${taskName}"`);
    if (definition.schema !== undefined) parseArgs(definition.schema, args, context);
    const id = options.id ??
      `${taskName}:${
        shortHash(
          JSON.stringify([cron, timezone === "UTC" ? "" : timezone, encoded, priority ?? null]),
        )
      }`;
    if (typeof id !== "string" || id === "" || /\s/.test(id)) {
      throw new TypeError(`${context}: id must be a non-empty string without spaces`);
    }
    if (this.#schedules.has(id)) {
      throw new TypeError(`${context}: a schedule with id "${id}" exists already`);
    }
    const schedule: Schedule = {
      id,
      taskName,
      cron,
      timezone,
      args: JSON.parse(encoded),
      priority,
      catchUp,
      pattern,
      next: undefined,
    };
    this.#schedules.set(id, schedule);
    if (this.#running) {
      schedule.next = this.#nextAfter(schedule, this.clock.now());
      this.#rearm();
    }
    return id;
  }

  /**
   * Starts firing: computes each schedule's next fire, enqueues the catch-up fires
   * (`catchUp: "once"`), and waits on the clock. Stops by itself when the app stops.
   *
   * @throws {TypeError} When the app's broker has no GlobalConfig (it holds the locks).
   */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#globalConfig();
    this.#running = true;
    this.#offStopping = this.app.events.on("stopping", () => void this.stop());
    const now = this.clock.now();
    this.#startedAt = now;
    for (const schedule of this.#schedules.values()) {
      schedule.next = this.#nextAfter(schedule, now);
    }
    this.#ticking = this.#catchUp(now);
    try {
      await this.#ticking;
    } catch (error) {
      // The backend failed during the catch-up: not started.
      this.#running = false;
      this.#offStopping?.();
      this.#offStopping = undefined;
      throw error;
    }
    this.#logger.info(
      `Timer started: ${this.#schedules.size} schedule${this.#schedules.size === 1 ? "" : "s"}`,
    );
    await this.#publish();
    this.#rearm();
  }

  /** Stops firing; waits for a fire in progress. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#cancelWait?.();
    this.#cancelWait = undefined;
    this.#offStopping?.();
    this.#offStopping = undefined;
    await this.#ticking.catch(() => {});
    this.#logger.info("Timer stopped");
  }

  /**
   * Starts, runs until SIGINT or SIGTERM, then stops the timer and the app (releasing its
   * connections) and exits with code 0 (unless `exit: false`), like `app.runForever()`.
   */
  runForever(options: RunForeverOptions = {}): Promise<void> {
    return runUntilSignal(
      {
        start: () => this.start(),
        stop: async () => {
          await this.stop();
          await this.app.stop();
        },
      },
      this.#logger,
      options,
    );
  }

  /**
   * Handles every fire due by the clock's current time, in order; the timer's loop calls it
   * when the clock reaches the next fire. Does nothing while the timer is stopped.
   *
   * @returns What happened to each fire.
   */
  tick(): Promise<TimerFire[]> {
    const run = this.#ticking.catch(() => {}).then(() => this.#due());
    this.#ticking = run;
    return run;
  }

  async #due(): Promise<TimerFire[]> {
    const fires: TimerFire[] = [];
    if (!this.#running) return fires;
    const now = this.clock.now();
    const maxLateMs = this.lockTtlMs / 2;
    for (const schedule of this.#schedules.values()) {
      while (schedule.next !== undefined && schedule.next <= now) {
        const fireAt = schedule.next;
        if (now - fireAt > maxLateMs) {
          // Too late to be sure no other timer fired it: skip to the fires still in reach.
          schedule.next = this.#nextAfter(schedule, now - maxLateMs);
          this.#logger.warn(
            `Timer: skipped the fires of ${schedule.id} from ${new Date(fireAt).toISOString()}: ${
              now - fireAt
            } ms late (more than half of lockTtlMs)`,
          );
          fires.push(this.#report({
            scheduleId: schedule.id,
            taskName: schedule.taskName,
            fireAt,
            uuid: await scheduleUuid(this.app.name, schedule.id, fireAt),
            outcome: "skipped-late",
            catchUp: false,
          }));
          // A stall (a paused VM, a blocked loop) is a miss like downtime: catch up once.
          const missed = await this.#catchUpOnce(schedule, now - maxLateMs, this.#startedAt);
          if (missed !== undefined) fires.push(missed);
          continue;
        }
        schedule.next = this.#nextAfter(schedule, fireAt);
        fires.push(await this.#fire(schedule, fireAt, false));
      }
    }
    return fires;
  }

  /** At start: one fire for each `catchUp: "once"` schedule that missed fires since its last. */
  async #catchUp(now: number): Promise<void> {
    for (const schedule of this.#schedules.values()) await this.#catchUpOnce(schedule, now);
  }

  /**
   * For a `catchUp: "once"` schedule: fires its latest fire before `before` when no timer
   * recorded it (or a later one) as its last fire. A schedule that never fired counts from
   * `since` (a running timer's start; at start, none: nothing was missed). Returns that fire.
   */
  async #catchUpOnce(
    schedule: Schedule,
    before: number,
    since?: number,
  ): Promise<TimerFire | undefined> {
    if (schedule.catchUp !== "once") return undefined;
    const recorded = Number(await this.#globalConfig().get(LAST_FIRE_GROUP, schedule.id));
    const last = Number.isFinite(recorded) ? recorded : since;
    if (last === undefined) return undefined;
    const missed = schedule.pattern.previousRuns(1, new Date(before))[0]?.getTime();
    if (missed === undefined || missed <= last || missed >= before) return undefined;
    return await this.#fire(schedule, missed, true);
  }

  async #fire(schedule: Schedule, fireAt: number, catchUp: boolean): Promise<TimerFire> {
    const uuid = await scheduleUuid(this.app.name, schedule.id, fireAt);
    const fire: TimerFire = {
      scheduleId: schedule.id,
      taskName: schedule.taskName,
      fireAt,
      uuid,
      outcome: "enqueued",
      catchUp,
    };
    const at = new Date(fireAt).toISOString();
    try {
      const claimed = await this.#globalConfig().claimOnce(
        `timer:${schedule.id}:${fireAt}`,
        this.lockTtlMs,
        { name: LAST_FIRE_GROUP, key: schedule.id, value: String(fireAt) },
      );
      if (!claimed) {
        fire.outcome = "claimed-elsewhere";
        return this.#report(fire);
      }
      // A caller-chosen uuid is an idempotency key: a task already stored under it stays alone,
      // so a failed enqueue is tried again while this timer's claim stands.
      const until = fireAt + this.lockTtlMs / 2;
      for (let attempt = 1;; attempt++) {
        try {
          await this.app.addTask(schedule.taskName, schedule.args, {
            priority: schedule.priority,
            uuid,
          });
          break;
        } catch (error) {
          const wait = Math.min(100 * 2 ** (attempt - 1), 5_000);
          if (
            !(error instanceof BackendError) || !this.#running || this.clock.now() + wait > until
          ) throw error;
          this.#logger.warn(
            `Timer: enqueue of ${schedule.taskName} for ${at} failed (${
              (error as Error).message
            }); trying again in ${wait} ms`,
          );
          await new Promise<void>((resolve) => this.clock.setTimer(resolve, wait));
        }
      }
      this.#logger.info(
        `Timer: enqueued ${schedule.taskName} ${uuid} for ${at}${catchUp ? " (catch-up)" : ""}`,
      );
    } catch (error) {
      fire.outcome = "failed";
      this.#logger.error(
        `Timer: could not enqueue ${schedule.taskName} for ${at}: ${(error as Error).message}`,
        { error },
      );
    }
    return this.#report(fire);
  }

  #report(fire: TimerFire): TimerFire {
    if (this.#onFire) {
      try {
        this.#onFire(fire);
      } catch (error) {
        this.#logger.error(`Timer: onFire failed: ${(error as Error).message}`, { error });
      }
    }
    return fire;
  }

  /** The first fire strictly after `after` (ms), or `undefined` when the pattern has no more. */
  #nextAfter(schedule: Schedule, after: number): number | undefined {
    return schedule.pattern.nextRun(new Date(after))?.getTime();
  }

  /** Waits on the clock until the earliest next fire (at most MAX_WAIT_MS), then ticks. */
  #rearm(): void {
    this.#cancelWait?.();
    this.#cancelWait = undefined;
    if (!this.#running) return;
    let next: number | undefined;
    for (const schedule of this.#schedules.values()) {
      if (schedule.next !== undefined && (next === undefined || schedule.next < next)) {
        next = schedule.next;
      }
    }
    if (next === undefined) return;
    const wait = Math.max(0, Math.min(next - this.clock.now(), MAX_WAIT_MS));
    this.#cancelWait = this.clock.setTimer(async () => {
      this.#cancelWait = undefined;
      try {
        await this.tick();
        await this.#publish();
      } catch (error) {
        this.#logger.error(`Timer: a tick failed: ${(error as Error).message}`, { error });
      } finally {
        this.#rearm();
      }
    }, wait);
  }

  /** Publishes the schedules and their next fire in the GlobalConfig (for the dashboard). */
  async #publish(): Promise<void> {
    const globalConfig = this.#globalConfig();
    const publishedAt = this.clock.now();
    try {
      for (const s of this.#schedules.values()) {
        const published: PublishedSchedule = {
          id: s.id,
          taskName: s.taskName,
          cron: s.cron,
          ...(s.timezone === undefined ? {} : { timezone: s.timezone }),
          args: s.args,
          ...(s.priority === undefined ? {} : { priority: s.priority }),
          catchUp: s.catchUp,
          ...(s.next === undefined ? {} : { nextAt: s.next }),
          publishedAt,
        };
        await globalConfig.set(SCHEDULES_GROUP, s.id, JSON.stringify(published));
      }
    } catch (error) {
      this.#logger.warn(`Timer: could not publish the schedules: ${(error as Error).message}`);
    }
  }

  #globalConfig(): GlobalConfig {
    const globalConfig = this.app.broker.storage.globalConfig;
    if (!globalConfig) {
      throw new TypeError(
        `Cannot run the timer of app "${this.app.name}": its broker's storage has no GlobalConfig (it holds the timer's locks)`,
      );
    }
    return globalConfig;
  }
}

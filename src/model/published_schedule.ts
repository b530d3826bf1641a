/**
 * The GlobalConfig group where a running timer publishes its schedules (key: schedule id, value:
 * {@linkcode PublishedSchedule} as JSON), so that the dashboard reads them without the app's code.
 *
 * @example Read what the running timers published
 * ```ts
 * import { QueueTasks } from "@qtasks/qtasks";
 * import { SCHEDULES_GROUP } from "@qtasks/qtasks/ports";
 *
 * const app = new QueueTasks({ name: "docs-schedules-group" });
 * await app.start();
 * const published = await app.broker.storage.globalConfig!.getAll(SCHEDULES_GROUP);
 * console.log(Object.keys(published)); // [] (no timer started)
 * await app.stop();
 * ```
 */
export const SCHEDULES_GROUP: string = "schedules";

/**
 * A schedule as a running timer publishes it in the app's GlobalConfig (group
 * {@linkcode SCHEDULES_GROUP}), at start and after each tick.
 *
 * @example
 * ```ts
 * import type { PublishedSchedule } from "@qtasks/qtasks/ports";
 *
 * const published: PublishedSchedule = {
 *   id: "report",
 *   taskName: "report",
 *   cron: "0 * * * *",
 *   args: [],
 *   catchUp: "skip",
 *   publishedAt: Date.now(),
 * };
 * console.log(published.nextAt); // undefined
 * ```
 */
export interface PublishedSchedule {
  /** The schedule's id. */
  id: string;
  /** The task it enqueues. */
  taskName: string;
  /** Its croner pattern. */
  cron: string;
  /** Its time zone, when it has one. */
  timezone?: string;
  /** The task's arguments. */
  args: unknown[];
  /** The task's priority, when the schedule sets one. */
  priority?: number;
  /** What the timer does about missed fires. */
  catchUp: "skip" | "once";
  /** Its next fire (ms since the epoch, the timer's clock), when it has one. */
  nextAt?: number;
  /** When the timer published this (ms since the epoch, the timer's clock). */
  publishedAt: number;
}

/**
 * Counting at the end of a scenario: wait (event-driven, through `result()`) until every task
 * the producer knows has a final status or a generous deadline passes, then count successes,
 * failures, lost tasks (no final status, or no record at all), tasks that executed more than
 * once (`RAN` lines from every worker process) and records delivered more than once; and look
 * for anything left behind in Redis (queue entries, leases, records that are not final,
 * including records the producer never heard of).
 *
 * @module
 */
import { BackendError, type QueueTasks, ResultTimeoutError, type TaskRecord } from "../../mod.ts";
import type { RedisConnection, RedisKeys } from "../../src/backends/redis/mod.ts";
import type { ScenarioRow } from "./scenario.ts";

/** Statuses after which a task never changes again. */
export const FINAL_STATUSES: readonly string[] = ["success", "error", "cancel"];

/** Whether a record has reached a final status. */
export function isFinal(record: TaskRecord | undefined): boolean {
  return record !== undefined && FINAL_STATUSES.includes(record.status);
}

/**
 * How many times each task body started, from the workers' `RAN <uuid> <pid> <deliveries>` lines.
 *
 * @param lines Stdout lines of every worker process.
 * @returns Executions per uuid.
 */
export function countExecutions(lines: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) {
    const match = /^RAN (\S+) /.exec(line);
    if (match) counts.set(match[1], (counts.get(match[1]) ?? 0) + 1);
  }
  return counts;
}

/**
 * Waits until each task has a final status, or `timeoutMs` passes, and returns the last record
 * read for each (`undefined`: no record). Waiting is `result()`, woken by Redis pub/sub; a
 * BackendError (Redis still coming back) is retried until the deadline.
 */
export async function awaitFinal(
  app: QueueTasks,
  uuids: Iterable<string>,
  timeoutMs: number,
): Promise<Map<string, TaskRecord | undefined>> {
  const deadline = Date.now() + timeoutMs;
  const one = async (uuid: string): Promise<[string, TaskRecord | undefined]> => {
    for (;;) {
      try {
        return [uuid, await app.result(uuid).result({ timeoutMs: deadline - Date.now() })];
      } catch (error) {
        if (error instanceof ResultTimeoutError) return [uuid, await app.get(uuid)];
        if (!(error instanceof BackendError) || Date.now() >= deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  };
  return new Map(await Promise.all([...new Set(uuids)].map(one)));
}

/** The columns of a scenario's row that come from the records. */
type RecordColumns = "sent" | "succeeded" | "failed" | "lost" | "duplicated" | "redelivered";

/** The columns of a scenario's row that come from the records, and the uuids counted as lost. */
export interface Counts extends Pick<ScenarioRow, RecordColumns> {
  /** The uuids counted as lost, with their last status (for the notes). */
  lostDetail: string[];
}

/**
 * Counts outcomes.
 *
 * @param records The last record of every task the producer created.
 * @param executions Executions per uuid ({@linkcode countExecutions}).
 */
export function tally(
  records: ReadonlyMap<string, TaskRecord | undefined>,
  executions: ReadonlyMap<string, number>,
): Counts {
  const counts: Counts = {
    sent: records.size,
    succeeded: 0,
    failed: 0,
    lost: 0,
    duplicated: 0,
    redelivered: 0,
    lostDetail: [],
  };
  for (const [uuid, record] of records) {
    if (!isFinal(record)) {
      counts.lost++;
      counts.lostDetail.push(`${uuid} (${record ? `status ${record.status}` : "no record"})`);
    } else if (record!.status === "success") counts.succeeded++;
    else counts.failed++;
    if (record && record.deliveries > 1) counts.redelivered++;
    if ((executions.get(uuid) ?? 0) > 1) counts.duplicated++;
  }
  return counts;
}

/** What a scenario left in Redis once everything settled. */
export interface Leftovers {
  /** Entries still in `{app}:queue`. */
  queued: number;
  /** Entries still in `{app}:leases`. */
  leased: number;
  /** Task records in Redis. */
  records: number;
  /** Uuids of records whose status is not final (whoever created them). */
  unfinished: string[];
  /** Uuids of records the producer does not know (an enqueue that failed ambiguously but ran). */
  strays: string[];
}

/**
 * Reads what is left: queue and lease sizes, and every task record of the app (SCAN).
 *
 * @param redis A connection to the scenario's Redis.
 * @param keys The app's keys.
 * @param known Uuids the producer knows.
 */
export async function leftovers(
  redis: RedisConnection,
  keys: RedisKeys,
  known: ReadonlySet<string>,
): Promise<Leftovers> {
  const queued = Number(await redis.command(["ZCARD", keys.queue]));
  const leased = Number(await redis.command(["ZCARD", keys.leases]));
  const uuids: string[] = [];
  let cursor = "0";
  do {
    const [next, found] = await redis.command([
      "SCAN",
      cursor,
      "MATCH",
      `${keys.taskPrefix}*`,
      "COUNT",
      "1000",
    ]) as [string, string[]];
    cursor = next;
    for (const key of found) uuids.push(key.slice(keys.taskPrefix.length));
  } while (cursor !== "0");
  const statuses = await Promise.all(
    uuids.map((uuid) => redis.command(["HGET", keys.task(uuid), "status"])),
  );
  return {
    queued,
    leased,
    records: uuids.length,
    unfinished: uuids.filter((_, i) => !FINAL_STATUSES.includes(String(statuses[i]))),
    strays: uuids.filter((uuid) => !known.has(uuid)),
  };
}

/**
 * Successful tasks whose stored return value differs from the expected one (the fixture's
 * `work(index, ms)` returns `index`).
 *
 * @returns The uuids with a wrong value.
 */
export function wrongResults(
  records: ReadonlyMap<string, TaskRecord | undefined>,
  expected: ReadonlyMap<string, unknown>,
): string[] {
  const wrong: string[] = [];
  for (const [uuid, value] of expected) {
    const record = records.get(uuid);
    if (record?.status === "success" && record.returning !== value) wrong.push(uuid);
  }
  return wrong;
}

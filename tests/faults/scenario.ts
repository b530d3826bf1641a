/**
 * What a fault scenario is and what it reports: one table row (tasks sent, succeeded, failed,
 * lost, duplicated, …), its notes, and the expectations it broke. Plus the two small tools every
 * scenario uses: a {@linkcode Scope} that disposes what the scenario started, in reverse order,
 * even when it fails; and {@linkcode Checks}, which collects broken expectations instead of
 * stopping at the first one.
 *
 * @module
 */

/** One row of the result table. */
export interface ScenarioRow {
  /** Scenario number (1–8). */
  id: number;
  /** Short name. */
  name: string;
  /** Tasks created: addTask calls that resolved (plus records a scenario wrote directly). */
  sent: number;
  /** Final status success. */
  succeeded: number;
  /** Final status error or cancel. */
  failed: number;
  /** Sent tasks without a final status (or without a record) by the deadline. Must be 0. */
  lost: number;
  /** Tasks whose body started more than once (`RAN` lines from every worker process). */
  duplicated: number;
  /** Records with deliveries > 1 (claimed more than once, whether or not they ran twice). */
  redelivered: number;
  /** addTask calls that rejected (BackendError) during an outage; re-sent afterwards. */
  rejectedAtEnqueue: number;
  /** Wall-clock duration. */
  seconds: number;
  /** No task lost and every expectation held. */
  ok: boolean;
  /** What happened, for people. */
  notes: string[];
  /** Broken expectations (empty when ok). */
  problems: string[];
}

/** The part of a row a scenario fills in (the runner adds id, name, duration and ok). */
export type ScenarioOutcome = Omit<ScenarioRow, "id" | "name" | "seconds" | "ok">;

/** What the runner gives a scenario. */
export interface ScenarioContext {
  /** The short form (CI): smaller numbers, shorter outages. */
  short: boolean;
  /** Echo worker output. */
  verbose: boolean;
  /** Progress line on stderr. */
  log(message: string): void;
  /** Disposes what the scenario started, when it ends (also on failure). */
  scope: Scope;
}

/** A fault scenario. */
export interface Scenario {
  /** Number used by `--only`. */
  id: number;
  /** Short name for the table. */
  name: string;
  /** One sentence: the fault and the expectation. */
  summary: string;
  /** Runs it. Throwing counts as a failed scenario. */
  run(ctx: ScenarioContext): Promise<ScenarioOutcome>;
}

/** Collects cleanups and runs them in reverse order; errors in one do not stop the others. */
export class Scope {
  #cleanups: Array<() => unknown> = [];

  /** Adds a cleanup. */
  defer(cleanup: () => unknown): void {
    this.#cleanups.push(cleanup);
  }

  /** Runs every cleanup, last added first. */
  async dispose(): Promise<void> {
    const cleanups = this.#cleanups.reverse();
    this.#cleanups = [];
    for (const cleanup of cleanups) {
      try {
        await cleanup();
      } catch (error) {
        console.error(`faults: cleanup failed: ${(error as Error)?.message ?? error}`);
      }
    }
  }
}

/** Collects notes and broken expectations. */
export class Checks {
  /** Broken expectations. */
  readonly problems: string[] = [];
  /** Observations. */
  readonly notes: string[] = [];

  /** Records `problem` unless `condition` holds; returns the condition. */
  expect(condition: boolean, problem: string): boolean {
    if (!condition) this.problems.push(problem);
    return condition;
  }

  /** Records an observation. */
  note(note: string): void {
    this.notes.push(note);
  }
}

/** Resolves after `ms` (for waits that are the point of a scenario: outages, kill cadence). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A random integer in [min, max]. */
export function randomInt(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

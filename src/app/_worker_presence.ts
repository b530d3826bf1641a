/**
 * Private: whether a worker of the app is running, for the waits of its AsyncResults: asked only
 * when a wait lasts, shared by the waits of one moment (one round trip for many), and a warning at
 * most once a minute.
 *
 * @module
 */
import type { Logger } from "../model/logger.ts";
import type { GlobalConfig } from "../ports/global_config.ts";

/** How long one answer serves every wait that asks. */
const ANSWER_MS = 1_000;
/** How long after a warning the next one is held back. */
const WARN_QUIET_MS = 60_000;

/** The part of an {@linkcode AsyncResultControl} that tells whether a worker runs. */
export interface WorkerPresence {
  /** Whether a worker of the app has a live heartbeat (`undefined`: no GlobalConfig). */
  workerRunning(): Promise<boolean | undefined>;
  /** Warns that a wait goes on with no worker (at most once a minute). */
  warnNoWorker(uuid: string): void;
}

/**
 * The worker presence of an app.
 *
 * @param appName The app's name.
 * @param globalConfig Where the heartbeats are (none: cannot tell).
 * @param logger Where the warning goes.
 */
export function workerPresence(
  appName: string,
  globalConfig: () => GlobalConfig | undefined,
  logger: Logger,
): WorkerPresence {
  let answer: Promise<boolean | undefined> | undefined;
  let answeredAt = -Infinity;
  let warnedAt = -Infinity;
  return {
    workerRunning() {
      const config = globalConfig();
      if (config === undefined) return Promise.resolve(undefined);
      const now = performance.now();
      if (answer === undefined || now - answeredAt > ANSWER_MS) {
        answeredAt = now;
        answer = config.isRunning().catch(() => undefined);
      }
      return answer;
    },
    warnNoWorker(uuid) {
      const now = performance.now();
      if (now - warnedAt < WARN_QUIET_MS) return;
      warnedAt = now;
      logger.warn(
        `Waiting for task ${uuid}, but no worker of app "${appName}" is running (no live heartbeat): start one with app.runForever() or qtasks worker`,
      );
    },
  };
}

/**
 * Test helpers for app-level tests that run on both backends.
 *
 * @module
 */
import { QueueTasks } from "../../mod.ts";
import { testRedisUrl, uniqueName } from "./deferred.ts";

/** The backends app-level tests run on. */
export const BACKENDS = ["memory", "redis"] as const;

/** The label of a backend in test names: "In memory" or "On Redis". */
export function backendLabel(backend: (typeof BACKENDS)[number]): string {
  return backend === "memory" ? "In memory" : "On Redis";
}

/** A silent app on `backend` under a fresh name with `prefix`. */
export function backendApp(
  backend: (typeof BACKENDS)[number],
  prefix: string,
  config: Record<string, unknown> = {},
  name: string = uniqueName(prefix),
): QueueTasks {
  return new QueueTasks({
    name,
    ...(backend === "redis" ? { brokerUrl: testRedisUrl() } : {}),
    env: false,
    config: { logsDefaultLevel: "silent", ...config },
  });
}

/**
 * Starts `app`, runs `body`, then always stops its worker (so no task settles after the flush),
 * flushes the app's keys and stops it.
 */
export async function withApp(app: QueueTasks, body: () => Promise<void>): Promise<void> {
  await app.start();
  try {
    await body();
  } finally {
    await app.worker.stop({ graceMs: 1_000 });
    await app.flushAll();
    await app.stop({ graceMs: 1_000 });
  }
}

import { z } from "zod";
import { ConfigError } from "./errors/config_error.ts";
import type { LogLevel } from "./logger.ts";
import { TASK_STATUSES, type TaskStatus } from "./task_status.ts";

const statusSchema: z.ZodType<TaskStatus, TaskStatus> = z.enum(
  TASK_STATUSES as [TaskStatus, ...TaskStatus[]],
);

/** The zod schema of {@linkcode QueueConfig}; defaults as in QTasks where QTasks has the field. */
const queueConfigSchema: z.ZodType<QueueConfig> = z.object({
  maxTasksProcess: z.number().int().min(1).max(100_000).default(10),
  maxTasksPrefetch: z.number().int().min(0).max(100_000).default(100),
  runningOlderTasks: z.boolean().default(false),
  deleteFinishedTasks: z.boolean().default(false),
  taskDefaultPriority: z.number().int().default(0),
  resultStatusesEnd: z.array(statusSchema).min(1).default(["success", "error", "cancel"]),
  resultTtlMs: z.number().int().min(1000).default(86_400_000),
  failedTtlMs: z.number().int().min(1000).default(604_800_000),
  taskLogMaxLines: z.number().int().min(1).max(100_000).default(1000),
  taskLogMaxBytes: z.number().int().min(256).max(16_777_216).default(65_536),
  leaseMs: z.number().int().min(100).default(30_000),
  maxDeliveries: z.number().int().min(1).default(5),
  shutdownGraceMs: z.number().int().min(0).default(30_000),
  idleWakeMs: z.number().int().min(10).default(5_000),
  backendTimeoutMs: z.number().int().min(100).default(10_000),
  maxPayloadBytes: z.number().int().min(64).default(1_048_576),
  globalConfigStatusTtlMs: z.number().int().min(1000).default(20_000),
  globalConfigStatusSetPeriodicMs: z.number().int().min(100).default(17_000),
  statsEnabled: z.boolean().default(true),
  statsIntervalMs: z.number().int().min(50).default(5_000),
  logsDefaultLevel: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  logTaskErrors: z.boolean().default(true),
  environPrefix: z.string().default("QTASKS_"),
}).strict().refine(
  (c) => c.globalConfigStatusSetPeriodicMs < c.globalConfigStatusTtlMs,
  {
    message: "must be shorter than globalConfigStatusTtlMs",
    path: ["globalConfigStatusSetPeriodicMs"],
  },
);

/**
 * The app's settings, validated. Names follow QTasks' `QueueConfig` in camelCase; durations are
 * in milliseconds (the `Ms` suffix).
 *
 * | field | default | meaning |
 * | --- | --- | --- |
 * | maxTasksProcess | 10 | tasks one worker runs at once |
 * | maxTasksPrefetch | 100 | most tasks a worker claims ahead of free slots; it claims ahead only as many as its running tasks get through during one exchange round trip, so slow tasks are not held back from other workers (0: never) |
 * | runningOlderTasks | false | at worker start, re-queue every task whose lease expired (always done lazily anyway) |
 * | deleteFinishedTasks | false | at worker start, delete the records of finished tasks |
 * | taskDefaultPriority | 0 | priority of tasks registered without one |
 * | resultStatusesEnd | success, error, cancel | statuses `result()` waits for |
 * | resultTtlMs | 1 day | how long finished records are kept |
 * | failedTtlMs | 7 days | how long failed and cancelled records are kept (to be inspected and retried) |
 * | taskLogMaxLines / taskLogMaxBytes | 1000 / 64 KiB | cap of a task's `ctx.log` lines; the oldest are dropped |
 * | leaseMs | 30 s | a claimed task returns to the queue if its worker stops renewing for this long |
 * | maxDeliveries | 5 | deliveries with an expired lease before the task ends as `error` |
 * | shutdownGraceMs | 30 s | how long shutdown waits for running tasks |
 * | idleWakeMs | 5 s | longest block of an idle worker before it re-checks expired leases |
 * | backendTimeoutMs | 10 s | how long a Redis command waits for a connection and its reply |
 * | maxPayloadBytes | 1 MiB | largest encoded arguments of one task; larger ones are refused at enqueue |
 * | globalConfigStatusTtlMs / …SetPeriodicMs | 20 s / 17 s | worker heartbeat |
 * | statsEnabled | true | workers report their heartbeat record and task counters to the GlobalConfig (`qtasks stats`) |
 * | statsIntervalMs | 5 s | how often a worker reports them (one Redis script call) |
 * | logsDefaultLevel | info | default logger's level |
 * | logTaskErrors | true | a worker logs one line per failed run (task name, uuid, attempt, error type and message; never the arguments): `error`, or `warn` when it is retried |
 * | environPrefix | QTASKS_ | prefix of environment overrides |
 *
 * @example
 * ```ts
 * import { parseQueueConfig, type QueueConfig } from "@qtasks/qtasks";
 *
 * const config: QueueConfig = parseQueueConfig({ maxTasksProcess: 50 });
 * console.log(config.leaseMs); // 30000
 * ```
 */
export interface QueueConfig {
  /** Tasks one worker runs at once. */
  readonly maxTasksProcess: number;
  /**
   * Most tasks a worker claims ahead of its free slots. It claims ahead only as many as its
   * running tasks get through during one exchange round trip (none for slow tasks, which other
   * workers may take instead); 0 turns claiming ahead off.
   */
  readonly maxTasksPrefetch: number;
  /** At worker start, re-queue every task whose lease expired. */
  readonly runningOlderTasks: boolean;
  /** At worker start, delete the records of finished tasks. */
  readonly deleteFinishedTasks: boolean;
  /** Priority of tasks registered without one. */
  readonly taskDefaultPriority: number;
  /** Statuses `result()` waits for. */
  readonly resultStatusesEnd: readonly TaskStatus[];
  /** How long finished records are kept, in ms. */
  readonly resultTtlMs: number;
  /** How long failed and cancelled records are kept. */
  readonly failedTtlMs: number;
  /** Most `ctx.log` lines kept per task. */
  readonly taskLogMaxLines: number;
  /** Most `ctx.log` bytes kept per task. */
  readonly taskLogMaxBytes: number;
  /** How long a claimed task stays owned without renewal, in ms. */
  readonly leaseMs: number;
  /** Deliveries with an expired lease before the task ends as `error`. */
  readonly maxDeliveries: number;
  /** How long shutdown waits for running tasks, in ms. */
  readonly shutdownGraceMs: number;
  /** Longest block of an idle worker before it re-checks expired leases, in ms. */
  readonly idleWakeMs: number;
  /** How long a Redis command waits for a connection and its reply before a BackendError, in ms. */
  readonly backendTimeoutMs: number;
  /** Largest encoded arguments of one task, in bytes (UTF-8); larger ones are refused at enqueue. */
  readonly maxPayloadBytes: number;
  /** TTL of a worker heartbeat, in ms. */
  readonly globalConfigStatusTtlMs: number;
  /** How often the heartbeat is refreshed, in ms. */
  readonly globalConfigStatusSetPeriodicMs: number;
  /**
   * Workers report their heartbeat record (host, pid, runtime, concurrency, start) and task
   * counters to the GlobalConfig, for `qtasks stats`.
   */
  readonly statsEnabled: boolean;
  /** How often a worker reports its stats, in ms (one Redis script call each time). */
  readonly statsIntervalMs: number;
  /** Level of the default logger. */
  readonly logsDefaultLevel: LogLevel;
  /**
   * A worker logs one line per failed run: task name, uuid, attempt, error type and message
   * (never the arguments), at `error` (at `warn` when the task is retried). `false` silences it.
   */
  readonly logTaskErrors: boolean;
  /** Prefix of environment overrides. */
  readonly environPrefix: string;
}

/**
 * Config as a user writes it: every field optional.
 *
 * @example
 * ```ts
 * import type { QueueConfigInput } from "@qtasks/qtasks";
 *
 * const input: QueueConfigInput = { maxTasksProcess: 20 };
 * ```
 */
export type QueueConfigInput = { -readonly [K in keyof QueueConfig]?: QueueConfig[K] };

const BOOLEAN_TRUE = new Set(["1", "true", "yes", "on"]);
const BOOLEAN_FALSE = new Set(["0", "false", "no", "off"]);

function toEnvName(prefix: string, field: string): string {
  return prefix + field.replace(/[A-Z]/g, (c) => "_" + c).toUpperCase();
}

function fromEnv(text: string, defaultValue: unknown): unknown {
  if (typeof defaultValue === "boolean") {
    const lower = text.trim().toLowerCase();
    if (BOOLEAN_TRUE.has(lower)) return true;
    if (BOOLEAN_FALSE.has(lower)) return false;
    return text;
  }
  if (typeof defaultValue === "number") {
    const value = Number(text);
    return text.trim() === "" || Number.isNaN(value) ? text : value;
  }
  if (Array.isArray(defaultValue)) {
    return text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  }
  return text;
}

/**
 * Validates config and fills in defaults. Values come from, in rising precedence: defaults,
 * `QTASKS_*` environment variables (`QTASKS_MAX_TASKS_PROCESS=20`; booleans accept
 * 1/true/yes/on and 0/false/no/off; lists are comma-separated), then `input`.
 *
 * @param input Fields set in code.
 * @param env Reads an environment variable; omit to ignore the environment.
 * @returns The full, frozen config.
 * @throws {ConfigError} Naming the first invalid field, and the variable when it came from one.
 *
 * @example
 * ```ts
 * import { parseQueueConfig } from "@qtasks/qtasks";
 *
 * const env = new Map([["QTASKS_MAX_TASKS_PROCESS", "4"]]);
 * const config = parseQueueConfig({}, (name) => env.get(name));
 * console.log(config.maxTasksProcess); // 4
 * ```
 */
export function parseQueueConfig(
  input: QueueConfigInput = {},
  env?: (name: string) => string | undefined,
): QueueConfig {
  if (input === null || typeof input !== "object") {
    throw new TypeError("Cannot read the config: it must be an object");
  }
  const defaults: QueueConfig = queueConfigSchema.parse({});
  const merged: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  if (env) {
    const prefix = input.environPrefix ?? env("QTASKS_ENVIRON_PREFIX") ?? defaults.environPrefix;
    for (const [field, defaultValue] of Object.entries(defaults)) {
      const name = toEnvName(prefix, field);
      const text = env(name);
      if (text === undefined) continue;
      merged[field] = fromEnv(text, defaultValue);
      sources[field] = name;
    }
  }
  for (const [field, value] of Object.entries(input)) {
    if (value !== undefined) {
      merged[field] = value;
      delete sources[field];
    }
  }
  const parsed = queueConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.code === "unrecognized_keys"
      ? String(issue.keys[0])
      : String(issue.path[0] ?? "config");
    const from = sources[field] ? ` (from ${sources[field]})` : "";
    const reason = issue.code === "unrecognized_keys" ? "no such config field" : issue.message;
    throw new ConfigError(field, `Invalid config field "${field}"${from}: ${reason}`);
  }
  return Object.freeze(parsed.data);
}

import { QueueTasks } from "../app/queue_tasks.ts";
import { MemoryBroker } from "../backends/memory/memory_broker.ts";
import { getRuntime } from "../ports/runtime.ts";
import { CliFailure, CliUsageError } from "./_cli_errors.ts";
import { loadApp, parseAppSpec } from "./_load_app.ts";
import type { FlagSpec } from "./_parse_flags.ts";

/**
 * What a command uses from the outside world, through the runtime adapter.
 *
 * @example A context that captures the output, to test a command
 * ```ts
 * import { type CliContext, runCli } from "@qtasks/qtasks/cli";
 *
 * let out = "";
 * const context: CliContext = {
 *   out: async (text) => void (out += text),
 *   err: async () => {},
 *   isTerminal: () => false,
 *   env: () => undefined,
 *   importModule: () => Promise.resolve({}), // --help imports no app module
 * };
 * console.log(await runCli(["--help"], context), out.startsWith("Usage: qtasks")); // 0 true
 * ```
 */
export interface CliContext {
  /** Writes to standard output. */
  out(text: string): Promise<void>;
  /** Writes to standard error. */
  err(text: string): Promise<void>;
  /** Whether a stream is a terminal. */
  isTerminal(stream: "stdout" | "stderr"): boolean;
  /** Reads an environment variable. */
  env(name: string): string | undefined;
  /**
   * Imports the app module named on the command line. The program (cli.ts) provides it: src/
   * never imports code from a computed specifier.
   */
  importModule(url: string): Promise<Record<string, unknown>>;
  /** The app the command loaded or built: the CLI names its backend in errors and stops it. */
  app?: QueueTasks;
}

/**
 * The context over the current runtime, with the program's module importer.
 *
 * @param importModule Imports the app module named on the command line: the program's own dynamic
 *   import of `url` (see cli.ts), so that src/ never imports code from a computed specifier.
 * @returns The context: standard output and error, the environment, through `getRuntime()`.
 *
 * @example
 * ```ts
 * import { runCli, runtimeContext } from "@qtasks/qtasks/cli";
 *
 * // --help loads no app module: a program passes its own importer (see cli.ts).
 * const context = runtimeContext(() => Promise.resolve({}));
 * console.log(await runCli(["worker", "--help"], context)); // 0
 * ```
 */
export function runtimeContext(
  importModule: (url: string) => Promise<Record<string, unknown>>,
): CliContext {
  const runtime = getRuntime();
  return {
    importModule,
    out: (text) => runtime.write("stdout", text),
    err: (text) => runtime.write("stderr", text),
    isTerminal: (stream) => runtime.isTerminal(stream),
    env: (name) => runtime.env(name),
  };
}

/** The flags of the commands that reach an app: by module, or by Redis URL and name. */
export const APP_FLAGS: FlagSpec = {
  app: { type: "string", short: "A" },
  redis: { type: "string" },
  name: { type: "string" },
};

/** The help text of {@linkcode APP_FLAGS}. */
export const APP_FLAGS_HELP = `Where the app is (the first that is given):
  --app, -A ./app.ts[:export]  the module that defines the app (env QTASKS_APP)
  --redis URL                  only the backend: a Redis URL (env QTASKS_REDIS_URL)
  --name NAME                  with --redis: the app name (env QTASKS_NAME, default QueueTasks)`;

/**
 * Finds the app of a command: `--app` / `QTASKS_APP` (the module is imported), else `--redis` /
 * `QTASKS_REDIS_URL` with `--name` / `QTASKS_NAME` (an app with no tasks, enough to enqueue, read,
 * cancel and read stats). `needsModule`: only a module will do (inspect).
 *
 * @throws {CliUsageError} When neither is given.
 * @throws {CliFailure} When the module has no app, or its app lives in this process's memory.
 */
export async function resolveApp(
  flags: Record<string, string | number | boolean>,
  context: CliContext,
  command: string,
  needsModule = false,
): Promise<QueueTasks> {
  const spec = (flags.app as string | undefined) ?? context.env("QTASKS_APP");
  const url = (flags.redis as string | undefined) ?? context.env("QTASKS_REDIS_URL");
  let app: QueueTasks;
  if (spec) {
    app = await loadApp(parseAppSpec(spec), context);
  } else if (url && !needsModule) {
    const name = (flags.name as string | undefined) ?? context.env("QTASKS_NAME") ?? "QueueTasks";
    try {
      app = new QueueTasks({ name, brokerUrl: url, config: { logsDefaultLevel: "warn" } });
    } catch (error) {
      throw new CliUsageError((error as Error).message);
    }
  } else {
    throw new CliUsageError(
      needsModule
        ? `${command} needs the app module: --app ./app.ts[:export] or QTASKS_APP`
        : `${command} needs the app: --app ./app.ts[:export] (or QTASKS_APP), or --redis URL (or QTASKS_REDIS_URL)`,
    );
  }
  context.app = app;
  if (!needsModule && app.broker instanceof MemoryBroker) {
    throw new CliFailure(
      `app "${app.name}" uses the in-memory backend: ${command} cannot reach it from another process (give it a brokerUrl)`,
    );
  }
  return app;
}

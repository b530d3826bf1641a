import { BackendError } from "../model/errors/backend_error.ts";
import { addCommand } from "./commands/_add_command.ts";
import { cancelCommand } from "./commands/_cancel_command.ts";
import { getCommand } from "./commands/_get_command.ts";
import { inspectCommand } from "./commands/_inspect_command.ts";
import { statsCommand } from "./commands/_stats_command.ts";
import { metricsCommand } from "./commands/_metrics_command.ts";
import { timerCommand } from "./commands/_timer_command.ts";
import { workerCommand } from "./commands/_worker_command.ts";
import { listCommand } from "./commands/_list_command.ts";
import { retryCommand } from "./commands/_retry_command.ts";
import { deleteCommand } from "./commands/_delete_command.ts";
import { cleanCommand } from "./commands/_clean_command.ts";
import { drainCommand } from "./commands/_drain_command.ts";
import { pauseTasksCommand, resumeTasksCommand } from "./commands/_pause_command.ts";
import { eventsCommand } from "./commands/_events_command.ts";
import { logsCommand } from "./commands/_logs_command.ts";
import { migrateCommand } from "./commands/_migrate_command.ts";
import { webCommand } from "./commands/_web_command.ts";
import { redactedBackend } from "./_backend_label.ts";
import type { CliContext } from "./cli_context.ts";
import { CliFailure, CliUsageError } from "./_cli_errors.ts";
import type { Command } from "./_command.ts";

const COMMANDS: readonly Command[] = [
  workerCommand,
  timerCommand,
  addCommand,
  getCommand,
  cancelCommand,
  inspectCommand,
  statsCommand,
  metricsCommand,
  listCommand,
  retryCommand,
  deleteCommand,
  cleanCommand,
  drainCommand,
  pauseTasksCommand,
  resumeTasksCommand,
  eventsCommand,
  logsCommand,
  migrateCommand,
  webCommand,
];

const HELP = `Usage: qtasks <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(8)} ${c.summary}`).join("\n")}

Run "qtasks <command> --help" for a command's options. An app is named as ./app.ts[:export],
a module that exports it. Exit codes: 0 success, 1 failure, 2 usage error.
`;

/**
 * Runs the `qtasks` command line with `argv` (the arguments after the program) and resolves with
 * its exit code: 0 success, 1 failure, 2 usage error. Errors are printed on one line of standard
 * error, `qtasks: …`, with Redis URLs redacted. Stops the app it loaded, so the process can end.
 *
 * @param argv The arguments, such as `["add", "send_email", "--args", "[\"a@b.c\"]"]`.
 * @param context Output, terminal checks, environment and the module importer
 *   ({@linkcode runtimeContext} over the runtime adapter; cli.ts gives it the importer).
 * @returns The exit code.
 *
 * @example
 * ```ts
 * import { runCli, runtimeContext } from "@qtasks/qtasks/cli";
 *
 * // --help imports no module: the importer is never called.
 * const code = await runCli(["--help"], runtimeContext(() => Promise.resolve({})));
 * console.log(code); // 0
 * ```
 */
export async function runCli(
  argv: readonly string[],
  context: CliContext,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    await (name === undefined ? context.err(HELP) : context.out(HELP));
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    await context.err(`qtasks: unknown command "${name}" (run "qtasks --help")\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    await context.out(command.help);
    return 0;
  }
  try {
    return await command.run(rest, context);
  } catch (error) {
    await context.err(`qtasks: ${describeFailure(error, command, context)}\n`);
    return error instanceof CliUsageError ? 2 : 1;
  } finally {
    await context.app?.stop().catch(() => {});
  }
}

function describeFailure(error: unknown, command: Command, context: CliContext): string {
  if (error instanceof CliUsageError) {
    return `${error.message} (see "qtasks ${command.name} --help")`;
  }
  if (error instanceof CliFailure) return error.message;
  if (error instanceof BackendError) {
    const where = context.app ? redactedBackend(context.app) : "its URL";
    return /Cannot (reach|connect)/.test(error.message)
      ? `Redis unreachable at ${where}`
      : firstLine(error.message);
  }
  if (error instanceof Error) {
    return `${error.name === "Error" ? "" : `${error.name}: `}${firstLine(error.message)}`;
  }
  return String(error);
}

function firstLine(text: string): string {
  return text.split("\n")[0];
}

import { APP_FLAGS, APP_FLAGS_HELP, type CliContext, resolveApp } from "../cli_context.ts";
import { CliUsageError } from "../_cli_errors.ts";
import type { Command } from "../_command.ts";
import { parseFlags } from "../_parse_flags.ts";
import { pausedLine } from "../_ops_output.ts";

function pauseCommand(action: "pause" | "resume"): Command {
  const verb = action === "pause" ? "pauses" : "resumes";
  return {
    name: action,
    summary: action === "pause"
      ? "stop workers claiming a task name, or the whole app"
      : "let workers claim a paused task name, or the app, again",
    help: `Usage: qtasks ${action} TASK... [--json]
       qtasks ${action} --all [--json]

${
      action === "pause"
        ? "Pauses"
        : "Resumes"
    } each task name, or with --all the whole app (task names paused on
their own stay paused). ${
      action === "pause"
        ? "From their next exchange on, workers claim nothing paused: running tasks finish,\nqueued ones wait."
        : "Their waiting tasks are claimable at once."
    } The state is kept in the backend, so it holds for every worker and across restarts. Prints
what is paused afterwards.

Options:
  --all       ${verb} the whole app
  --json      print JSON ({ app, taskNames })
  --help, -h  this help

${APP_FLAGS_HELP}
`,
    async run(argv: readonly string[], context: CliContext): Promise<number> {
      const { flags, positionals } = parseFlags(argv, {
        ...APP_FLAGS,
        all: { type: "boolean" },
        json: { type: "boolean" },
      });
      if (positionals.length === 0 && !flags.all) {
        throw new CliUsageError(`${action} needs task names, or --all for the whole app`);
      }
      if (positionals.length > 0 && flags.all) {
        throw new CliUsageError(`${action} takes task names or --all, not both`);
      }
      const app = await resolveApp(flags, context, action);
      for (const name of positionals.length > 0 ? positionals : [undefined]) {
        await app.ops[action](name);
      }
      const paused = await app.ops.paused();
      await context.out(flags.json ? JSON.stringify(paused) + "\n" : pausedLine(paused) + "\n");
      return 0;
    },
  };
}

/** `qtasks pause`. */
export const pauseTasksCommand: Command = pauseCommand("pause");
/** `qtasks resume`. */
export const resumeTasksCommand: Command = pauseCommand("resume");

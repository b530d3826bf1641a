import { APP_FLAGS, APP_FLAGS_HELP, type CliContext, resolveApp } from "../cli_context.ts";
import { CliUsageError } from "../_cli_errors.ts";
import type { Command } from "../_command.ts";
import { parseFlags } from "../_parse_flags.ts";

/** `qtasks drain`. */
export const drainCommand: Command = {
  name: "drain",
  summary: "delete every queued and scheduled task",
  help: `Usage: qtasks drain --task NAME [--json]
       qtasks drain --all [--json]

Deletes the queued and scheduled tasks (of one task, or all of them): they will never run.
Running tasks are not touched. Prints how many were deleted.

Options:
  --task NAME  only this task's tasks
  --all        every queued and scheduled task of the app
  --json       print JSON
  --help, -h   this help

${APP_FLAGS_HELP}
`,
  async run(argv: readonly string[], context: CliContext): Promise<number> {
    const { flags, positionals } = parseFlags(argv, {
      ...APP_FLAGS,
      task: { type: "string" },
      all: { type: "boolean" },
      json: { type: "boolean" },
    });
    if (positionals.length > 0) throw new CliUsageError("drain takes no arguments");
    const taskName = flags.task as string | undefined;
    if (taskName === undefined && !flags.all) {
      throw new CliUsageError("drain with no --task deletes every waiting task: add --all");
    }
    const app = await resolveApp(flags, context, "drain");
    const deleted = await app.ops.drain(taskName !== undefined ? { taskName } : {});
    await context.out(flags.json ? JSON.stringify({ deleted }) + "\n" : `deleted ${deleted}\n`);
    return 0;
  },
};

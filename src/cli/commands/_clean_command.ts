import { APP_FLAGS, APP_FLAGS_HELP, type CliContext, resolveApp } from "../cli_context.ts";
import { CliUsageError } from "../_cli_errors.ts";
import type { Command } from "../_command.ts";
import { parseFlags } from "../_parse_flags.ts";
import { durationFlag, limitFlag, statusFlag } from "../_ops_output.ts";

/** `qtasks clean`. */
export const cleanCommand: Command = {
  name: "clean",
  summary: "delete finished records by status and age",
  help:
    `Usage: qtasks clean --status STATUS [--older-than DURATION] [--task NAME] [--limit N] [--json]
       qtasks clean --status STATUS --all

Deletes the finished records of one status (success, error, cancel, retry) that finished at least
DURATION ago, and prints how many. Records expire by themselves (resultTtlMs, failedTtlMs); clean
removes them sooner. With no --older-than, --task or --limit it asks for --all.

Options:
  --status STATUS        success, error, cancel or retry (required)
  --older-than DURATION  only records finished at least this long ago: 30s, 15m, 12h, 7d
  --task NAME            only this task's records
  --limit N              at most N records
  --all                  every record of that status
  --json                 print JSON
  --help, -h             this help

${APP_FLAGS_HELP}
`,
  async run(argv: readonly string[], context: CliContext): Promise<number> {
    const { flags, positionals } = parseFlags(argv, {
      ...APP_FLAGS,
      status: { type: "string" },
      "older-than": { type: "string" },
      task: { type: "string" },
      limit: { type: "integer" },
      all: { type: "boolean" },
      json: { type: "boolean" },
    });
    if (positionals.length > 0) throw new CliUsageError("clean takes no arguments");
    if (flags.status === undefined) throw new CliUsageError("clean needs --status");
    const status = statusFlag(flags.status, ["success", "error", "cancel", "retry"]) as
      | "success"
      | "error"
      | "cancel"
      | "retry";
    const olderThanMs = durationFlag("older-than", flags["older-than"]);
    const limit = limitFlag(flags.limit);
    const taskName = flags.task as string | undefined;
    if (olderThanMs === undefined && limit === undefined && taskName === undefined && !flags.all) {
      throw new CliUsageError(
        "clean with no --older-than, --task or --limit deletes every record of that status: add --all",
      );
    }
    const app = await resolveApp(flags, context, "clean");
    const deleted = await app.ops.clean({
      status,
      ...(olderThanMs !== undefined ? { olderThanMs } : {}),
      ...(taskName !== undefined ? { taskName } : {}),
      ...(limit !== undefined ? { limit } : {}),
    });
    await context.out(flags.json ? JSON.stringify({ deleted }) + "\n" : `deleted ${deleted}\n`);
    return 0;
  },
};

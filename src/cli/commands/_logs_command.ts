import { APP_FLAGS, APP_FLAGS_HELP, type CliContext, resolveApp } from "../cli_context.ts";
import { CliFailure, CliUsageError } from "../_cli_errors.ts";
import type { Command } from "../_command.ts";
import { parseFlags } from "../_parse_flags.ts";
import { logsText } from "../_ops_output.ts";

/** `qtasks logs UUID`. */
export const logsCommand: Command = {
  name: "logs",
  summary: "print the lines a task logged with ctx.log",
  help: `Usage: qtasks logs UUID [--json]

Prints the lines task UUID logged with ctx.log, oldest first: time, level, message. When the cap
(taskLogMaxLines, taskLogMaxBytes) dropped older lines, a first warn line says how many. Exits 1
when there is no such task.

Options:
  --json      print JSON (an array of { at, level, message })
  --help, -h  this help

${APP_FLAGS_HELP}
`,
  async run(argv: readonly string[], context: CliContext): Promise<number> {
    const { flags, positionals } = parseFlags(argv, { ...APP_FLAGS, json: { type: "boolean" } });
    if (positionals.length !== 1) {
      throw new CliUsageError("logs needs one task uuid: qtasks logs UUID");
    }
    const [uuid] = positionals;
    const app = await resolveApp(flags, context, "logs");
    const lines = await app.ops.logs(uuid);
    if (lines === undefined) {
      throw new CliFailure(`no task ${uuid} (unknown, or its record expired)`);
    }
    await context.out(
      flags.json
        ? JSON.stringify(lines) + "\n"
        : lines.length > 0
        ? logsText(lines)
        : "no log lines\n",
    );
    return 0;
  },
};

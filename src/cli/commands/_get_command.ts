import { APP_FLAGS, APP_FLAGS_HELP, type CliContext, resolveApp } from "../cli_context.ts";
import { CliFailure, CliUsageError } from "../_cli_errors.ts";
import type { Command } from "../_command.ts";
import { parseFlags } from "../_parse_flags.ts";
import { recordJson, recordText } from "../_record_output.ts";

/** `qtasks get UUID`. */
export const getCommand: Command = {
  name: "get",
  summary: "print a task's record",
  help: `Usage: qtasks get UUID [--json]

Prints the record of task UUID: status, arguments, times, result or error. Exits 1 when there is
no such task (unknown, or its record expired after resultTtlMs).

Options:
  --json      print JSON
  --help, -h  this help

${APP_FLAGS_HELP}
`,
  async run(argv: readonly string[], context: CliContext): Promise<number> {
    const { flags, positionals } = parseFlags(argv, { ...APP_FLAGS, json: { type: "boolean" } });
    if (positionals.length !== 1) {
      throw new CliUsageError("get needs one task uuid: qtasks get UUID");
    }
    const app = await resolveApp(flags, context, "get");
    const record = await app.get(positionals[0]);
    if (!record) {
      throw new CliFailure(`no task ${positionals[0]} (unknown, or its record expired)`);
    }
    await context.out(flags.json ? recordJson(record) : recordText(record));
    return 0;
  },
};

import { APP_FLAGS, APP_FLAGS_HELP, type CliContext, resolveApp } from "../cli_context.ts";
import { CliFailure, CliUsageError } from "../_cli_errors.ts";
import type { Command } from "../_command.ts";
import { parseFlags } from "../_parse_flags.ts";

/** `qtasks cancel UUID`. */
export const cancelCommand: Command = {
  name: "cancel",
  summary: "cancel a queued or running task",
  help: `Usage: qtasks cancel UUID [--reason TEXT] [--json]

Cancels task UUID and prints what happened: cancelled (it was queued and will never run),
cancelling (it runs; its worker aborts it), finished (it had ended already). Exits 1 when there
is no such task.

Options:
  --reason TEXT  stored as the record's cancel reason
  --json         print JSON
  --help, -h     this help

${APP_FLAGS_HELP}
`,
  async run(argv: readonly string[], context: CliContext): Promise<number> {
    const { flags, positionals } = parseFlags(argv, {
      ...APP_FLAGS,
      reason: { type: "string" },
      json: { type: "boolean" },
    });
    if (positionals.length !== 1) {
      throw new CliUsageError("cancel needs one task uuid: qtasks cancel UUID");
    }
    const [uuid] = positionals;
    const app = await resolveApp(flags, context, "cancel");
    const outcome = await app.cancel(uuid, (flags.reason as string | undefined) ?? "");
    if (outcome === "missing") {
      throw new CliFailure(`no task ${uuid} (unknown, or its record expired)`);
    }
    await context.out(flags.json ? JSON.stringify({ uuid, outcome }) + "\n" : `${outcome}\n`);
    return 0;
  },
};

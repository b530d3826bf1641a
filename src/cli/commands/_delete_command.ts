import { APP_FLAGS, APP_FLAGS_HELP, type CliContext, resolveApp } from "../cli_context.ts";
import { CliFailure, CliUsageError } from "../_cli_errors.ts";
import type { Command } from "../_command.ts";
import { parseFlags } from "../_parse_flags.ts";

/** `qtasks delete UUID...`. */
export const deleteCommand: Command = {
  name: "delete",
  summary: "delete queued, scheduled or finished tasks",
  help: `Usage: qtasks delete UUID... [--json]

Deletes each task: its record and, for a queued or scheduled one, its place in the queue (it will
never run). A running task is not deleted (cancel it first). Prints "deleted UUID" per task; exits
1 when any task was unknown or running (the others are deleted).

Options:
  --json      print JSON ({ deleted, missing, running })
  --help, -h  this help

${APP_FLAGS_HELP}
`,
  async run(argv: readonly string[], context: CliContext): Promise<number> {
    const { flags, positionals } = parseFlags(argv, { ...APP_FLAGS, json: { type: "boolean" } });
    if (positionals.length === 0) {
      throw new CliUsageError("delete needs task uuids: qtasks delete UUID...");
    }
    const app = await resolveApp(flags, context, "delete");
    const deleted: string[] = [];
    const missing: string[] = [];
    const running: string[] = [];
    for (const uuid of positionals) {
      try {
        if (await app.ops.delete(uuid)) deleted.push(uuid);
        else missing.push(uuid);
      } catch (error) {
        if ((error as { code?: string }).code !== "TASK_STATE") throw error;
        running.push(uuid);
      }
    }
    if (flags.json) {
      await context.out(JSON.stringify({ deleted, missing, running }) + "\n");
      return missing.length + running.length > 0 ? 1 : 0;
    }
    await context.out(deleted.map((uuid) => `deleted ${uuid}\n`).join(""));
    const problems = [
      ...missing.map((uuid) => `no task ${uuid} (unknown, or its record expired)`),
      ...running.map((uuid) => `task ${uuid} is running: cancel it first`),
    ];
    if (problems.length > 0) throw new CliFailure(problems.join("; "));
    return 0;
  },
};

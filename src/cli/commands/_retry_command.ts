import { APP_FLAGS, APP_FLAGS_HELP, type CliContext, resolveApp } from "../cli_context.ts";
import { CliFailure, CliUsageError } from "../_cli_errors.ts";
import type { Command } from "../_command.ts";
import { parseFlags } from "../_parse_flags.ts";
import { limitFlag, sinceFlag, statusFlag } from "../_ops_output.ts";

/** `qtasks retry`. */
export const retryCommand: Command = {
  name: "retry",
  summary: "re-enqueue failed or cancelled tasks",
  help: `Usage: qtasks retry UUID [--json]
       qtasks retry [--task NAME] [--status error|cancel] [--since WHEN] [--limit N] [--json]
       qtasks retry --all

Re-enqueues a failed (error) or cancelled task as a new attempt linked to the old record (whose
status becomes retry; waiting on its result follows the new attempt), and prints the new uuid.
Exits 1 when there is no such task, or when it did not fail (queued, running, succeeded or
retried already: nothing changes). Without a UUID it retries every failed and cancelled record
that matches the filters, newest first, and prints how many; with no filter at all it asks for
--all.

Options:
  --task NAME               only this task's records
  --status error|cancel     only this status (default both)
  --since WHEN              only records finished since WHEN: an ISO date, or 1h, 2d, ... ago
  --limit N                 at most N tasks
  --all                     retry every failed and cancelled task
  --json                    print JSON
  --help, -h                this help

${APP_FLAGS_HELP}
`,
  async run(argv: readonly string[], context: CliContext): Promise<number> {
    const { flags, positionals } = parseFlags(argv, {
      ...APP_FLAGS,
      task: { type: "string" },
      status: { type: "string" },
      since: { type: "string" },
      limit: { type: "integer" },
      all: { type: "boolean" },
      json: { type: "boolean" },
    });
    if (positionals.length > 1) throw new CliUsageError("retry takes at most one task uuid");
    const status = statusFlag(flags.status, ["error", "cancel"]) as "error" | "cancel" | undefined;
    const since = sinceFlag(flags.since);
    const limit = limitFlag(flags.limit);
    const taskName = flags.task as string | undefined;
    const filtered = status !== undefined || since !== undefined || taskName !== undefined ||
      limit !== undefined;
    if (positionals.length === 1 && (filtered || flags.all)) {
      throw new CliUsageError("retry takes a task uuid or filters, not both");
    }
    if (positionals.length === 0 && !filtered && !flags.all) {
      throw new CliUsageError(
        "retry needs a task uuid, a filter (--task, --status, --since, --limit) or --all",
      );
    }
    const app = await resolveApp(flags, context, "retry");
    if (positionals.length === 1) {
      const uuid = positionals[0];
      const child = await app.ops.retry(uuid);
      if (child === undefined) {
        throw new CliFailure(`no task ${uuid} (unknown, or its record expired)`);
      }
      await context.out(flags.json ? JSON.stringify({ uuid, retry: child }) + "\n" : `${child}\n`);
      return 0;
    }
    const retried = await app.ops.retryAll({
      ...(taskName !== undefined ? { taskName } : {}),
      ...(status ? { status } : {}),
      ...(since ? { since } : {}),
      ...(limit !== undefined ? { limit } : {}),
    });
    await context.out(flags.json ? JSON.stringify({ retried }) + "\n" : `retried ${retried}\n`);
    return 0;
  },
};

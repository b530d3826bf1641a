import { APP_FLAGS, APP_FLAGS_HELP, type CliContext, resolveApp } from "../cli_context.ts";
import { CliUsageError } from "../_cli_errors.ts";
import type { Command } from "../_command.ts";
import { parseFlags } from "../_parse_flags.ts";
import { countsText, limitFlag, recordsTable, statusFlag } from "../_ops_output.ts";

/** `qtasks list`. */
export const listCommand: Command = {
  name: "list",
  summary: "list tasks by status and task name, or count them",
  help: `Usage: qtasks list [--status STATUS] [--task NAME] [--limit N] [--cursor C] [--json]
       qtasks list --uuid PREFIX [--json]
       qtasks list --counts [--json]

Lists task records, newest first (by enqueue order), a page at a time: by status (queued,
scheduled, running, success, error, cancel, retry), by task name, or both. When more records
follow, the last line gives the --cursor of the next page. --uuid finds records by the start of
their uuid (at least 4 characters; the uuids QTasks makes begin with their time, so tasks made
in the same minute share their first 8, and a prefix that tells them apart runs past the third
dash). --counts prints how many records each status holds, per task name, and what is paused.

Options:
  --status STATUS  only records in this status
  --task NAME      only records of this task
  --limit N        records per page, 1 to 1000 (default 50)
  --cursor C       the page after the one that printed this cursor
  --uuid PREFIX    records whose uuid starts with PREFIX
  --counts         counts per status and task name instead of records
  --json           print JSON ({ records, cursor } or the counts)
  --help, -h       this help

${APP_FLAGS_HELP}
`,
  async run(argv: readonly string[], context: CliContext): Promise<number> {
    const { flags, positionals } = parseFlags(argv, {
      ...APP_FLAGS,
      status: { type: "string" },
      task: { type: "string" },
      limit: { type: "integer" },
      cursor: { type: "string" },
      uuid: { type: "string" },
      counts: { type: "boolean" },
      json: { type: "boolean" },
    });
    if (positionals.length > 0) throw new CliUsageError("list takes no arguments (see --uuid)");
    const status = statusFlag(flags.status);
    const limit = limitFlag(flags.limit, 1000);
    const taskName = flags.task as string | undefined;
    const cursor = flags.cursor as string | undefined;
    if (cursor !== undefined && !/^s\d{1,15}$/.test(cursor)) {
      throw new CliUsageError(`--cursor "${cursor}" is malformed (pass the cursor a page printed)`);
    }
    const prefix = flags.uuid as string | undefined;
    if (prefix !== undefined && prefix.length < 4) {
      throw new CliUsageError("--uuid needs at least 4 characters");
    }
    const app = await resolveApp(flags, context, "list");
    if (flags.counts) {
      const counts = await app.ops.counts();
      await context.out(flags.json ? JSON.stringify(counts) + "\n" : countsText(counts));
      return 0;
    }
    if (prefix !== undefined) {
      const records = await app.ops.find(prefix, limit ?? 10);
      await context.out(
        flags.json
          ? JSON.stringify({ records }) + "\n"
          : records.length > 0
          ? recordsTable(records)
          : `no task whose uuid starts with ${prefix}\n`,
      );
      return 0;
    }
    const page = await app.ops.list({
      ...(status ? { status } : {}),
      ...(taskName !== undefined ? { taskName } : {}),
      ...(limit !== undefined ? { limit } : {}),
      ...(cursor !== undefined ? { cursor } : {}),
    });
    if (flags.json) {
      await context.out(JSON.stringify(page) + "\n");
      return 0;
    }
    let text = page.records.length > 0 ? recordsTable(page.records) : "no tasks\n";
    if (page.cursor) text += `next page: --cursor ${page.cursor}\n`;
    await context.out(text);
    return 0;
  },
};

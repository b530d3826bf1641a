import { getRuntime } from "../../ports/runtime.ts";
import { APP_FLAGS, APP_FLAGS_HELP, type CliContext, resolveApp } from "../cli_context.ts";
import { CliUsageError } from "../_cli_errors.ts";
import type { Command } from "../_command.ts";
import { parseFlags } from "../_parse_flags.ts";
import { eventJson, eventLine } from "../_ops_output.ts";

/** `qtasks events`. */
export const eventsCommand: Command = {
  name: "events",
  summary: "follow the app's task events until Ctrl-C",
  help: `Usage: qtasks events [--task NAME[,NAME...]] [--json]

Prints every status change and progress report of the app's tasks as it happens (queued,
scheduled, running, progress, success, error, cancel, retry, deleted), one line each, until
Ctrl-C (or SIGTERM), then exits 0. Once it listens it says so on standard error. No event is
missed while connected; after a lost connection it prints a "gap" line on standard error (re-read
with qtasks list).

Options:
  --task NAMES  only these tasks (comma-separated)
  --json        one JSON object per line: { uuid, taskName, status, at }
  --help, -h    this help

${APP_FLAGS_HELP}
`,
  async run(argv: readonly string[], context: CliContext): Promise<number> {
    const { flags, positionals } = parseFlags(argv, {
      ...APP_FLAGS,
      task: { type: "string" },
      json: { type: "boolean" },
    });
    if (positionals.length > 0) throw new CliUsageError("events takes no arguments");
    const names = (flags.task as string | undefined)?.split(",").map((n) => n.trim()).filter(
      (n) => n !== "",
    );
    if (names !== undefined && names.length === 0) throw new CliUsageError("--task needs names");
    const app = await resolveApp(flags, context, "events");
    const runtime = getRuntime();
    let stop: () => void = () => {};
    const stopped = new Promise<void>((resolve) => stop = resolve);
    const removers = (["SIGINT", "SIGTERM"] as const).map((s) => runtime.onSignal(s, () => stop()));
    let output = Promise.resolve();
    try {
      const unsubscribe = await app.ops.subscribe((event) => {
        const text = flags.json ? eventJson(event) : eventLine(event);
        output = output.then(() => context.out(text));
      }, {
        ...(names ? { taskNames: names } : {}),
        onGap: () => void context.err("qtasks: gap in the event stream (reconnected)\n"),
      });
      await context.err(`following the events of app "${app.name}" (Ctrl-C to stop)\n`);
      await stopped;
      unsubscribe();
      await output;
    } finally {
      for (const remove of removers) remove();
    }
    return 0;
  },
};

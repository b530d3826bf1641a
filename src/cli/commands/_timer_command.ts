import { redactedBackend } from "../_backend_label.ts";
import type { CliContext } from "../cli_context.ts";
import { CliFailure, CliUsageError } from "../_cli_errors.ts";
import { MemoryBroker } from "../../backends/memory/memory_broker.ts";
import type { Command } from "../_command.ts";
import { table } from "../_format.ts";
import { loadTimer, parseAppSpec } from "../_load_app.ts";
import { parseFlags } from "../_parse_flags.ts";
import { runUntilSignal } from "../../engine/starter/run_until_signal.ts";

/** `qtasks timer ./app.ts[:export]`. */
export const timerCommand: Command = {
  name: "timer",
  summary: "run the app's Timer (cron schedules) until Ctrl-C",
  help: `Usage: qtasks timer ./app.ts[:export]

Runs the Timer the module exports (the named export, else default, else "timer", else its only
Timer): the module builds it with new Timer({ app }) and timer.addTask(...). It enqueues each
fire of each schedule; run several for availability (each fire is enqueued once across them).
Stops on SIGINT or SIGTERM and exits 0.

Options:
  --help, -h  this help
`,
  async run(argv: readonly string[], context: CliContext): Promise<number> {
    const { positionals } = parseFlags(argv, {});
    if (positionals.length !== 1) {
      throw new CliUsageError("timer needs one app module: qtasks timer ./app.ts[:export]");
    }
    const timer = await loadTimer(parseAppSpec(positionals[0]), context);
    const app = timer.app;
    context.app = app;
    if (app.broker instanceof MemoryBroker) {
      throw new CliFailure(
        `app "${app.name}" uses the in-memory backend: a timer process would enqueue where no worker runs (give it a brokerUrl)`,
      );
    }
    await runUntilSignal(
      {
        start: async () => {
          await timer.start();
          const rows = timer.schedules.map((s) => [
            s.id,
            s.cron + (s.timezone ? ` (${s.timezone})` : ""),
            `${s.taskName}(${JSON.stringify(s.args).slice(1, -1)})`,
            s.nextAt === undefined ? "-" : new Date(s.nextAt).toISOString(),
          ]);
          await context.out(
            `qtasks: timer of app "${app.name}" on ${
              redactedBackend(app)
            } running ${rows.length} schedule${rows.length === 1 ? "" : "s"}; Ctrl-C to stop\n` +
              table([["schedule", "cron", "task", "next"], ...rows]),
          );
        },
        stop: async () => {
          await timer.stop();
          await app.stop();
        },
      },
      app.logger,
      { exit: false },
    );
    await context.out(`qtasks: timer of app "${app.name}" stopped\n`);
    return 0;
  },
};

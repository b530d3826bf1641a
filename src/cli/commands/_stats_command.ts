import type { QueueTasks } from "../../app/queue_tasks.ts";
import { getRuntime } from "../../ports/runtime.ts";
import { type AppStats, readAppStats } from "../../app/app_stats.ts";
import { redactedBackend } from "../_backend_label.ts";
import { APP_FLAGS, APP_FLAGS_HELP, type CliContext, resolveApp } from "../cli_context.ts";
import { CliUsageError } from "../_cli_errors.ts";
import type { Command } from "../_command.ts";
import { duration, fields, table } from "../_format.ts";
import { parseFlags } from "../_parse_flags.ts";
import { pausedLine } from "../_ops_output.ts";
import type { TaskCounts } from "../../model/task_query.ts";

/** `qtasks stats`. */
export const statsCommand: Command = {
  name: "stats",
  summary: "live view of queues, throughput, failures and workers",
  help: `Usage: qtasks stats [--json] [--interval MS]

Shows queue depth per priority, scheduled and quarantined tasks, tasks in flight, throughput over
the last minute, failures, and the workers alive (from their heartbeat records: host, pid,
runtime, concurrency, uptime, tasks done). On a terminal it refreshes in place until Ctrl-C;
with --json, or when standard output is not a terminal, it prints one snapshot.

Options:
  --json         one snapshot as JSON
  --interval MS  refresh period on a terminal (default 1000)
  --help, -h     this help

${APP_FLAGS_HELP}
`,
  async run(argv: readonly string[], context: CliContext): Promise<number> {
    const { flags, positionals } = parseFlags(argv, {
      ...APP_FLAGS,
      json: { type: "boolean" },
      interval: { type: "integer" },
    });
    if (positionals.length > 0) throw new CliUsageError(`stats takes no arguments`);
    const intervalMs = (flags.interval as number | undefined) ?? 1000;
    if (intervalMs < 100) throw new CliUsageError(`--interval must be >= 100, got ${intervalMs}`);
    const app = await resolveApp(flags, context, "stats");
    if (flags.json) {
      const paused = await app.broker.operations?.paused();
      await context.out(JSON.stringify({ ...(await readAppStats(app)), paused }) + "\n");
      return 0;
    }
    if (!context.isTerminal("stdout")) {
      await context.out(
        statsText(app, await readAppStats(app), await app.broker.operations?.counts()),
      );
      return 0;
    }
    await live(app, context, intervalMs);
    return 0;
  },
};

/** Redraws the stats in place every `intervalMs` until SIGINT or SIGTERM. */
async function live(app: QueueTasks, context: CliContext, intervalMs: number): Promise<void> {
  const runtime = getRuntime();
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => stop = resolve);
  const removers = (["SIGINT", "SIGTERM"] as const).map((s) => runtime.onSignal(s, () => stop()));
  let running = true;
  void stopped.then(() => running = false);
  try {
    await context.out("\x1b[?25l"); // hide the cursor
    while (running) {
      const text = statsText(app, await readAppStats(app), await app.broker.operations?.counts());
      await context.out(
        `\x1b[H\x1b[2J${text}\n(refreshing every ${intervalMs} ms; Ctrl-C to quit)\n`,
      );
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        stopped,
        new Promise((resolve) => timer = setTimeout(resolve, intervalMs)),
      ]);
      clearTimeout(timer);
    }
  } finally {
    for (const remove of removers) remove();
    await context.out("\x1b[?25h");
  }
}

/** The stats as text. */
export function statsText(app: QueueTasks, stats: AppStats, counts?: TaskCounts): string {
  const { queue } = stats;
  const priorities = queue.byPriority.map((p) => `priority ${p.priority}: ${p.count}`).join(", ");
  const perSecond = (stats.lastMinute.processed / 60).toFixed(1);
  const head = fields([
    ["app", `${stats.app} on ${redactedBackend(app)} at ${new Date(stats.now).toISOString()}`],
    ["queued", `${queue.queued}${priorities ? ` (${priorities})` : ""}`],
    ["scheduled", String(queue.scheduled)],
    ["quarantined", String(queue.quarantined)],
    ["in flight", String(queue.inFlight)],
    [
      "last minute",
      `${stats.lastMinute.processed} processed (${perSecond}/s), ${stats.lastMinute.failed} failed`,
    ],
    ["total", `${stats.processed} processed, ${stats.failed} failed`],
    ["workers", `${stats.workers.length} alive`],
    ...(counts
      ? [["paused", pausedLine(counts.paused, counts).slice("paused: ".length)] as const]
      : []),
  ]);
  if (stats.workers.length === 0) return head;
  return head + table([
    ["  host", "pid", "runtime", "concurrency", "active", "processed", "failed", "uptime"],
    ...stats.workers.map((w) => [
      `  ${w.host}`,
      String(w.pid),
      w.runtime,
      String(w.concurrency),
      String(w.active),
      String(w.processed),
      String(w.failed),
      duration(stats.now - w.startedAt),
    ]),
  ]);
}

import { redactedBackend } from "../_backend_label.ts";
import type { CliContext } from "../cli_context.ts";
import { CliUsageError } from "../_cli_errors.ts";
import type { Command } from "../_command.ts";
import { loadApp, parseAppSpec } from "../_load_app.ts";
import { parseFlags } from "../_parse_flags.ts";
import { runUntilSignal } from "../../engine/starter/run_until_signal.ts";
import { workerRunnable } from "../_worker_runner.ts";
import { DEFAULT_QUEUE } from "../../model/queue_name.ts";

/** `qtasks worker ./app.ts[:export]`. */
export const workerCommand: Command = {
  name: "worker",
  summary: "run the app's worker until Ctrl-C (graceful stop)",
  help: `Usage: qtasks worker ./app.ts[:export] [--concurrency N] [--pool-size N] [--queues LIST]

Runs the worker of the app the module exports (the named export, else default, else "app", else
its only QueueTasks), until SIGINT or SIGTERM: then it stops taking tasks, lets running ones
finish within shutdownGraceMs, gives the rest back to the queue and exits 0. A second signal
exits 1 at once. While Redis cannot be reached it keeps trying to start (1 s, doubling up to
30 s, one warning per attempt); a signal then stops it at once.

Options:
  --concurrency N  tasks run at once (default: the app's maxTasksProcess)
  --pool-size N    run tasks on a pool of N threads (Web Workers), --concurrency per thread
  --queues LIST    the queues to take tasks from, comma-separated, in order (default: the
                   worker's own, else "default"); NAME:WEIGHT draws the order per claim by
                   weight, e.g. --queues io:3,cpu:1 (see docs/flow-control.md)
  --help, -h       this help
`,
  async run(argv: readonly string[], context: CliContext): Promise<number> {
    const { flags, positionals } = parseFlags(argv, {
      concurrency: { type: "integer", short: "c" },
      "pool-size": { type: "integer" },
      queues: { type: "string" },
    });
    if (positionals.length !== 1) {
      throw new CliUsageError("worker needs one app module: qtasks worker ./app.ts[:export]");
    }
    const spec = parseAppSpec(positionals[0]);
    const app = await loadApp(spec, context);
    context.app = app;
    const runnable = workerRunnable(app, {
      concurrency: flags.concurrency as number | undefined,
      poolSize: flags["pool-size"] as number | undefined,
      queues: flags.queues as string | undefined,
      moduleUrl: spec.url,
      exportName: spec.exportName,
    });
    let running = false;
    await runUntilSignal(
      {
        start: async () => {
          await runnable.start();
          running = true;
          const { concurrency, queues } = runnable.worker as {
            concurrency?: number;
            queues?: string[];
          };
          const details = [
            ...(concurrency === undefined ? [] : [`concurrency ${concurrency}`]),
            // Named queues only (the default queue alone is not worth a word).
            ...(queues === undefined || queues.join() === DEFAULT_QUEUE
              ? []
              : [`queues ${queues.join(", ")}`]),
          ];
          await context.out(
            `qtasks: worker of app "${app.name}" on ${redactedBackend(app)} running${
              details.length === 0 ? "" : ` (${details.join("; ")})`
            }; Ctrl-C to stop\n`,
          );
        },
        stop: () => runnable.stop(),
      },
      app.logger,
      { exit: false },
    );
    if (!running) {
      // Stopped while it was still connecting: nothing runs, and the attempt in flight is left
      // to settle in the background (waiting for it would ignore the signal for seconds).
      context.app = undefined;
      await context.out(`qtasks: worker of app "${app.name}" stopped before it started\n`);
      return 0;
    }
    await context.out(`qtasks: worker of app "${app.name}" stopped\n`);
    return 0;
  },
};

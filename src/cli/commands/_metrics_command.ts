import { getRuntime } from "../../ports/runtime.ts";
import { readAppStats } from "../../app/app_stats.ts";
import { metricsHandler } from "../../metrics/prometheus_metrics.ts";
import { serveHttp } from "../../runtime/serve_http.ts";
import { redactedBackend } from "../_backend_label.ts";
import { APP_FLAGS, APP_FLAGS_HELP, type CliContext, resolveApp } from "../cli_context.ts";
import { CliFailure, CliUsageError } from "../_cli_errors.ts";
import type { Command } from "../_command.ts";
import { parseFlags } from "../_parse_flags.ts";

/** The port `qtasks metrics` listens on by default. */
export const DEFAULT_METRICS_PORT = 9808;

/** `qtasks metrics`. */
export const metricsCommand: Command = {
  name: "metrics",
  summary: "serve the app's metrics for Prometheus to scrape",
  help: `Usage: qtasks metrics [--port N] [--host ADDRESS] [--allow-empty]

Serves the app's metrics in the Prometheus text format, read from its backend at each scrape (queue
depth per priority, scheduled, quarantined and in-flight tasks, records per task name and status,
processed and failed counters, live workers, what is paused), until Ctrl-C (or SIGTERM). Any path
answers (point Prometheus at http://HOST:PORT/metrics). It needs no code of the app: --redis and
--name are enough. Once it listens it prints its URL. The page is not authenticated: it listens on 127.0.0.1 unless --host says
otherwise. See docs/observability.md.

Options:
  --port N         the port (default ${DEFAULT_METRICS_PORT}; 0: any free one, printed)
  --host ADDRESS   the address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --allow-empty    serve an app that has no task records, no queued task and no live worker yet
                   (by default that is taken for a wrong --name and refused)
  --help, -h       this help

${APP_FLAGS_HELP}
`,
  async run(argv: readonly string[], context: CliContext): Promise<number> {
    const { flags, positionals } = parseFlags(argv, {
      ...APP_FLAGS,
      port: { type: "integer" },
      host: { type: "string" },
      "allow-empty": { type: "boolean" },
    });
    if (positionals.length > 0) throw new CliUsageError("metrics takes no arguments");
    const port = (flags.port as number | undefined) ?? DEFAULT_METRICS_PORT;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new CliUsageError(`--port must be an integer from 0 to 65535, got ${port}`);
    }
    const hostname = (flags.host as string | undefined) ?? "127.0.0.1";
    if (hostname.trim() === "" || /[\s/]/.test(hostname)) {
      throw new CliUsageError(`--host must be an address or host name, got "${hostname}"`);
    }
    const app = await resolveApp(flags, context, "metrics");
    if (!flags["allow-empty"]) {
      const [stats, counts] = await Promise.all([
        readAppStats(app),
        app.broker.operations?.counts(),
      ]);
      const { queue } = stats;
      if (
        stats.workers.length === 0 && queue.queued + queue.scheduled + queue.inFlight === 0 &&
        (counts === undefined || Object.keys(counts.byTaskName).length === 0)
      ) {
        throw new CliFailure(
          `No app "${app.name}" on ${
            redactedBackend(app)
          }: it has no task records, no queued task and no live worker (check --name, or pass --allow-empty to serve it anyway)`,
        );
      }
    }
    let server;
    try {
      server = await serveHttp(metricsHandler(app), { hostname, port });
    } catch (error) {
      throw new CliFailure(
        `Cannot listen on ${hostname}:${port}: ${(error as Error).message.split("\n")[0]}`,
      );
    }
    const runtime = getRuntime();
    let stop: () => void = () => {};
    const stopped = new Promise<void>((resolve) => stop = resolve);
    const removers = (["SIGINT", "SIGTERM"] as const).map((s) => runtime.onSignal(s, () => stop()));
    try {
      const host = hostname.includes(":") ? `[${hostname}]` : hostname;
      await context.out(
        `Serving the metrics of app "${app.name}" on ${
          redactedBackend(app)
        } at http://${host}:${server.port}/metrics (Ctrl-C to stop)\n`,
      );
      await stopped;
    } finally {
      for (const remove of removers) remove();
      await server.close();
    }
    return 0;
  },
};

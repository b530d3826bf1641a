import { getRuntime } from "../../ports/runtime.ts";
import { createDashboard, type DashboardAuth } from "../../web/dashboard.ts";
import { redactedBackend } from "../_backend_label.ts";
import { APP_FLAGS, APP_FLAGS_HELP, type CliContext, resolveApp } from "../cli_context.ts";
import { CliUsageError } from "../_cli_errors.ts";
import type { Command } from "../_command.ts";
import { parseFlags } from "../_parse_flags.ts";
import { serveHttp } from "../../runtime/serve_http.ts";

/** `qtasks web`. */
export const webCommand: Command = {
  name: "web",
  summary: "serve the dashboard (WebView) on 127.0.0.1:8080",
  help: `Usage: qtasks web [./app.ts[:export]] [--port 8080] [--host 127.0.0.1] [options]

Serves the dashboard of an app until Ctrl-C (or SIGTERM), and says where on standard output: overview, workers, tasks, task detail and
schedules, live, with the operator's actions. It needs no application code: --redis URL and
--name NAME are enough (--app NAME is taken as the name when it is not a module path).

Options:
  --port N         the port (default 8080; 0 picks a free one)
  --host ADDR      the address to bind (default 127.0.0.1; another one without auth is warned)
  --base-path P    serve under this path prefix, such as /queue
  --read-only      hide and refuse every action
  --token T        require this bearer token (or basic auth with it as the password)
                   (env QTASKS_WEB_TOKEN; prefer the environment: a flag shows in ps)
  --user U         with a password: require basic auth (env QTASKS_WEB_USER)
                   the password comes from env QTASKS_WEB_PASSWORD
  --help, -h       this help

${APP_FLAGS_HELP}
`,
  async run(argv: readonly string[], context: CliContext): Promise<number> {
    const { flags, positionals } = parseFlags(argv, {
      ...APP_FLAGS,
      port: { type: "integer" },
      host: { type: "string" },
      "base-path": { type: "string" },
      "read-only": { type: "boolean" },
      token: { type: "string" },
      user: { type: "string" },
    });
    if (positionals.length > 1) throw new CliUsageError("web takes at most one app module");
    if (positionals.length === 1) {
      if (flags.app !== undefined) throw new CliUsageError("give the app module once");
      flags.app = positionals[0];
    }
    const redis = (flags.redis as string | undefined) ?? context.env("QTASKS_REDIS_URL");
    if (
      typeof flags.app === "string" && redis && flags.name === undefined && !isModulePath(flags.app)
    ) {
      flags.name = flags.app; // `--redis URL --app NAME`: the app's name
      delete flags.app;
    }
    const port = (flags.port as number | undefined) ?? 8080;
    if (port < 0 || port > 65535) throw new CliUsageError(`--port must be 0 to 65535, got ${port}`);
    const host = (flags.host as string | undefined) ?? "127.0.0.1";
    const token = (flags.token as string | undefined) ?? context.env("QTASKS_WEB_TOKEN");
    const user = (flags.user as string | undefined) ?? context.env("QTASKS_WEB_USER");
    const password = context.env("QTASKS_WEB_PASSWORD");
    if ((user === undefined) !== (password === undefined)) {
      throw new CliUsageError(
        "basic auth needs both --user (or QTASKS_WEB_USER) and QTASKS_WEB_PASSWORD",
      );
    }
    const auth: DashboardAuth | undefined = token || user
      ? { ...(token ? { token } : {}), ...(user ? { username: user, password } : {}) }
      : undefined;
    const app = await resolveApp(flags, context, "web");
    let dashboard;
    try {
      dashboard = createDashboard({
        app,
        ...(flags["base-path"] ? { basePath: flags["base-path"] as string } : {}),
        ...(auth ? { auth } : {}),
        readOnly: flags["read-only"] === true,
      });
    } catch (error) {
      throw new CliUsageError((error as Error).message);
    }
    if (!auth && !isLoopback(host)) {
      await context.err(
        `qtasks: warning: the dashboard listens on ${host} with no authentication: anyone who reaches it can operate the queue (set QTASKS_WEB_TOKEN, or --read-only)\n`,
      );
    }
    const server = await serveHttp(dashboard, { hostname: host, port });
    const runtime = getRuntime();
    let stop: () => void = () => {};
    const stopped = new Promise<void>((resolve) => stop = resolve);
    const removers = (["SIGINT", "SIGTERM"] as const).map((s) => runtime.onSignal(s, () => stop()));
    try {
      const shown = host.includes(":") ? `[${host}]` : host;
      await context.out(
        `qtasks: dashboard of app "${app.name}" (${
          redactedBackend(app)
        }) on http://${shown}:${server.port}${(flags["base-path"] as string | undefined) ?? ""}/${
          flags["read-only"] ? " (read-only)" : ""
        }${auth ? " (authentication required)" : ""} (Ctrl-C to stop)\n`,
      );
      await stopped;
      await context.out(`qtasks: dashboard of app "${app.name}" stopped\n`);
    } finally {
      for (const remove of removers) remove();
      dashboard.close();
      await server.close();
    }
    return 0;
  },
};

function isModulePath(value: string): boolean {
  return /[/\\]|\.[cm]?[jt]sx?(:|$)|^[a-z][a-z0-9+.-]+:\/\//i.test(value);
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

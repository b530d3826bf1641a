import { inspectApp, inspectTask, type TaskInfo } from "../../app/inspect_app.ts";
import { APP_FLAGS, APP_FLAGS_HELP, type CliContext, resolveApp } from "../cli_context.ts";
import { CliFailure, CliUsageError } from "../_cli_errors.ts";
import type { Command } from "../_command.ts";
import { fields, json, table } from "../_format.ts";
import { parseFlags } from "../_parse_flags.ts";

/** `qtasks inspect app|tasks|task NAME`. */
export const inspectCommand: Command = {
  name: "inspect",
  summary: "describe the app: components, config, registered tasks",
  help: `Usage: qtasks inspect app|tasks|task NAME [--json] --app ./app.ts[:export]

  inspect app        the app's name, backend, components, config and task names
  inspect tasks      every registered task with its options, one per line
  inspect task NAME  one task's options

Options:
  --json      print JSON
  --help, -h  this help

${APP_FLAGS_HELP.replace(/\n {2}--redis[\s\S]*$/, "")}
`,
  async run(argv: readonly string[], context: CliContext): Promise<number> {
    const { flags, positionals } = parseFlags(argv, { ...APP_FLAGS, json: { type: "boolean" } });
    const [what, name, ...rest] = positionals;
    if (
      !(what === "app" || what === "tasks" || what === "task") ||
      (what === "task" ? name === undefined || rest.length > 0 : name !== undefined)
    ) {
      throw new CliUsageError("inspect takes app, tasks, or task NAME");
    }
    const app = await resolveApp(flags, context, "inspect", true);
    const info = inspectApp(app);
    if (what === "task") {
      const definition = app.tasks.get(name);
      if (!definition) throw new CliFailure(`app "${app.name}" has no task "${name}"`);
      const task = inspectTask(definition);
      await context.out(flags.json ? JSON.stringify(task) + "\n" : taskText(task));
      return 0;
    }
    if (what === "tasks") {
      await context.out(
        flags.json ? JSON.stringify(info.tasks) + "\n" : table([
          ["name", "priority", "maxTime", "retry", "echo", "description"],
          ...info.tasks.map((t) => [
            t.name,
            String(t.priority),
            t.maxTime === undefined ? "-" : `${t.maxTime} ms`,
            String(t.retry),
            t.echo ? "yes" : "no",
            t.description ?? "",
          ]),
        ]),
      );
      return 0;
    }
    if (flags.json) {
      await context.out(JSON.stringify(info) + "\n");
      return 0;
    }
    await context.out(
      fields([
        ["app", info.name],
        ["backend", info.backend],
        ["broker", info.components.broker],
        ["storage", info.components.storage],
        ["globalConfig", info.components.globalConfig ?? "-"],
        ["worker", info.components.worker],
        ["starter", info.components.starter],
        ["tasks", info.tasks.map((t) => t.name).join(", ") || "-"],
      ]) + "config:\n" +
        Object.entries(info.config).map(([key, value]) => `  ${key} = ${json(value)}`).join("\n") +
        "\n",
    );
    return 0;
  },
};

function taskText(task: TaskInfo): string {
  return fields(
    Object.entries(task).map(([key, value]) => [
      key,
      typeof value === "string" ? value : json(value),
    ]),
  );
}

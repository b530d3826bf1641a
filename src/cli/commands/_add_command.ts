import { ResultTimeoutError } from "../../model/errors/result_timeout_error.ts";
import { UnknownTaskError } from "../../model/errors/unknown_task_error.ts";
import { APP_FLAGS, APP_FLAGS_HELP, type CliContext, resolveApp } from "../cli_context.ts";
import { CliFailure, CliUsageError } from "../_cli_errors.ts";
import type { Command } from "../_command.ts";
import { parseFlags } from "../_parse_flags.ts";
import { Spinner } from "../_spinner.ts";
import { recordJson, recordText } from "../_record_output.ts";

/** `qtasks add NAME --args JSON`. */
export const addCommand: Command = {
  name: "add",
  summary: "enqueue a task (and wait for its result with --wait)",
  help: `Usage: qtasks add NAME [--args JSON] [--priority N] [--wait [--timeout MS]] [--json]

Enqueues task NAME and prints its uuid. With --app, NAME must be one of the app's tasks (a typo is
refused, with the closest name); with --redis, any name is sent. With --wait, waits for its result and prints the record
(a spinner shows on a terminal); exits 1 when the task ends as error or cancel.

Options:
  --args JSON      the arguments, a JSON array (default [])
  --priority N     its priority (lower runs first; default the task's)
  --wait, -w       wait for the result
  --timeout MS     with --wait: give up after MS milliseconds (default 60000)
  --json           print JSON
  --help, -h       this help

${APP_FLAGS_HELP}
`,
  async run(argv: readonly string[], context: CliContext): Promise<number> {
    const { flags, positionals } = parseFlags(argv, {
      ...APP_FLAGS,
      args: { type: "string" },
      priority: { type: "integer", short: "p" },
      wait: { type: "boolean", short: "w" },
      timeout: { type: "integer" },
      json: { type: "boolean" },
    });
    if (positionals.length !== 1) {
      throw new CliUsageError("add needs one task name: qtasks add NAME");
    }
    const [taskName] = positionals;
    const args = parseJsonArgs(flags.args as string | undefined);
    if (flags.timeout !== undefined && !flags.wait) {
      throw new CliUsageError("--timeout goes with --wait");
    }
    const timeoutMs = (flags.timeout as number | undefined) ?? 60_000;
    if (timeoutMs < 0) throw new CliUsageError(`--timeout must be >= 0, got ${timeoutMs}`);
    const app = await resolveApp(flags, context, "add");
    let job;
    try {
      job = await app.addTask(taskName, args, { priority: flags.priority as number | undefined });
    } catch (error) {
      if (
        error instanceof TypeError || error instanceof RangeError ||
        error instanceof UnknownTaskError
      ) {
        throw new CliUsageError(error.message);
      }
      throw error;
    }
    if (!flags.wait) {
      await context.out(
        flags.json
          ? JSON.stringify({ uuid: job.uuid, taskName, status: "new" }) + "\n"
          : job.uuid + "\n",
      );
      return 0;
    }
    const spinner = new Spinner(
      context.err,
      context.isTerminal("stderr"),
      `waiting for ${taskName} ${job.uuid}`,
    );
    let record;
    try {
      record = await job.result({ timeoutMs });
    } catch (error) {
      if (error instanceof ResultTimeoutError) {
        throw new CliFailure(
          `no result for task ${taskName} ${job.uuid} within ${timeoutMs} ms${
            error.workerRunning === false
              ? ` (no worker of app "${app.name}" is running: start one with qtasks worker)`
              : ""
          }`,
        );
      }
      throw error;
    } finally {
      await spinner.stop();
    }
    await context.out(flags.json ? recordJson(record) : recordText(record));
    if (record.status === "success") return 0;
    const why = record.error
      ? `${record.error.type}: ${record.error.message}`
      : record.cancelReason ?? "";
    await context.err(
      `qtasks: task ${taskName} ${record.uuid} ended as ${record.status}${why ? `: ${why}` : ""}\n`,
    );
    return 1;
  },
};

/** Parses `--args`: a JSON array. */
function parseJsonArgs(text: string | undefined): unknown[] {
  if (text === undefined) return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CliUsageError(`--args is not valid JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(value)) {
    throw new CliUsageError(
      `--args must be a JSON array of arguments, such as '[1, 2]'; got ${text}`,
    );
  }
  return value;
}

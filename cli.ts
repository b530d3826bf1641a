#!/usr/bin/env -S deno run -A
/**
 * The `qtasks` command line: run a worker or a timer from an app module, enqueue, read and
 * cancel tasks, inspect the app, and watch live stats.
 *
 *   deno run -A jsr:@qtasks/qtasks/cli worker ./app.ts
 *   deno task qtasks add send_email --args '["ada@example.com"]' --wait --app ./app.ts
 *   npx qtasks stats --redis redis://127.0.0.1:6379 --name shop     (the npm package's bin)
 *
 * Run as a program, it reads the arguments through the runtime adapter and exits with the
 * command's code (0 success, 1 failure, 2 usage error). Imported, it exports {@linkcode runCli}.
 *
 * @example
 * ```ts
 * import { runCli, runtimeContext } from "@qtasks/qtasks/cli";
 *
 * console.log(await runCli(["worker", "--help"], runtimeContext((url) => import(url)))); // 0
 * ```
 *
 * @module
 */
import "./src/runtime/adapters.ts";
import { getRuntime } from "./src/ports/runtime.ts";
import { runCli } from "./src/cli/main.ts";
import { runtimeContext } from "./src/cli/cli_context.ts";

export { runCli } from "./src/cli/main.ts";
export { runtimeContext } from "./src/cli/cli_context.ts";
export type { CliContext } from "./src/cli/cli_context.ts";

if (import.meta.main || isNpmBin()) {
  const runtime = getRuntime();
  // The one import of a computed specifier: the app module the operator names on the command
  // line (never data from the backend). It lives here, in the program, not in src/.
  const importModule = (url: string) => import(url) as Promise<Record<string, unknown>>;
  runtime.exit(await runCli(runtime.args(), runtimeContext(importModule)));
}

/** The npm build's bin sets this before importing the module (node has no import.meta.main). */
function isNpmBin(): boolean {
  return (globalThis as { __QTASKS_CLI_MAIN__?: boolean }).__QTASKS_CLI_MAIN__ === true;
}

import type { CliContext } from "./cli_context.ts";

/** One `qtasks` command. */
export interface Command {
  /** Its name: `qtasks <name>`. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: string;
  /**
   * Runs it with the arguments after its name; resolves with the exit code.
   *
   * @throws {CliUsageError} For a usage error (exit code 2).
   * @throws {CliFailure} For a failure to report on one line (exit code 1).
   */
  run(argv: readonly string[], context: CliContext): Promise<number>;
}

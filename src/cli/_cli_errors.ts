/**
 * The command line was used wrongly (unknown command or flag, a missing or malformed value):
 * `qtasks` prints the message on one line and exits with code 2.
 */
export class CliUsageError extends Error {
  /** @param message What was wrong, for one line after `qtasks: `. */
  constructor(message: string) {
    super(message);
    this.name = "CliUsageError";
  }
}

/**
 * A command failed for a reason the user can act on (no such export, no such task): `qtasks`
 * prints the message on one line and exits with code 1.
 */
export class CliFailure extends Error {
  /** @param message What failed, for one line after `qtasks: `. */
  constructor(message: string) {
    super(message);
    this.name = "CliFailure";
  }
}

/**
 * Command-line reading shared by the scripts (bench.ts, faults.ts, bench_query.ts, …): each argument
 * as a flag, with `--flag=value` and `--flag value` both accepted for a flag's value.
 *
 * @module
 */

/** One argument of the command line. */
export interface CliArg {
  /** The argument as given. */
  arg: string;
  /** The flag: the argument, or its part before `=` in `--flag=value`. */
  flag: string;
  /**
   * The flag's value: the part after `=`, else the next argument (which is then consumed).
   * Throws, with `usage`, when there is none.
   */
  value(): string;
}

/**
 * The arguments of `argv`, one by one.
 *
 * @param argv The arguments (without the program).
 * @param usage The usage line, added to the error when a flag's value is missing.
 */
export function* cliArgs(argv: readonly string[], usage: string): Generator<CliArg> {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith("--") && arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    const value = () => {
      const text = inline ?? argv[++i];
      if (text === undefined) throw new Error(`${flag} needs a value\n${usage}`);
      return text;
    };
    yield { arg, flag, value };
  }
}

/**
 * A flag's value read as a positive integer.
 *
 * @param flag The flag, for the error.
 * @param text Its value as given.
 * @param usage The usage line, added to the error.
 * @returns The integer.
 * @throws {Error} When the value is not a positive integer.
 */
export function positiveInteger(flag: string, text: string, usage: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${flag} takes a positive integer, got ${JSON.stringify(text)}\n${usage}`);
  }
  return value;
}

/**
 * Command-line reading shared by scripts/bench.ts and scripts/faults.ts: each argument as a flag,
 * with `--flag=value` and `--flag value` both accepted for a flag's value.
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

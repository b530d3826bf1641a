import { CliUsageError } from "./_cli_errors.ts";

/** The kind of value a flag takes. */
export type FlagType = "boolean" | "string" | "integer";

/** The flags a command accepts: name (without `--`) → its type and optional one-letter alias. */
export type FlagSpec = Readonly<Record<string, { type: FlagType; short?: string }>>;

/** A parsed command line. */
export interface ParsedFlags {
  /** The flags given, by name: `true` for a boolean, a string or an integer otherwise. */
  flags: Record<string, string | number | boolean>;
  /** The other arguments, in order. */
  positionals: string[];
}

/**
 * Parses `argv` against `spec`: `--name value`, `--name=value`, `-x value`, boolean `--name`,
 * and `--` to end the flags. Small on purpose: the CLI needs no more, and a dependency (or
 * `node:util`'s `parseArgs`, which is `node:*`) would not earn its place.
 *
 * @throws {CliUsageError} For an unknown flag, a missing value or an integer that is not one.
 */
export function parseFlags(argv: readonly string[], spec: FlagSpec): ParsedFlags {
  const flags: ParsedFlags["flags"] = {};
  const positionals: string[] = [];
  const byShort = new Map<string, string>();
  for (const [name, { short }] of Object.entries(spec)) if (short) byShort.set(short, name);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (arg.startsWith("--") && arg.length > 2) {
      const eq = arg.indexOf("=");
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
    } else if (/^-[a-zA-Z]$/.test(arg)) {
      name = byShort.get(arg.slice(1));
      if (name === undefined) throw new CliUsageError(`unknown flag ${arg}`);
    } else {
      positionals.push(arg);
      continue;
    }
    const entry = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (!entry) throw new CliUsageError(`unknown flag --${name}`);
    if (entry.type === "boolean") {
      if (inline !== undefined) throw new CliUsageError(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new CliUsageError(`--${name} needs a value`);
    if (entry.type === "integer") {
      const number = Number(value);
      if (value.trim() === "" || !Number.isSafeInteger(number)) {
        throw new CliUsageError(`--${name} needs an integer, got "${value}"`);
      }
      flags[name] = number;
    } else {
      flags[name] = value;
    }
  }
  return { flags, positionals };
}

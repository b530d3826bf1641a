import { QueueTasks } from "../app/queue_tasks.ts";
import { getRuntime } from "../ports/runtime.ts";
import { Timer } from "../timer/timer.ts";
import { CliFailure } from "./_cli_errors.ts";

/** What loads the operator's module for the CLI: the program's own importer (see `CliContext`). */
export interface ModuleImporter {
  /** Imports the module at `url`. */
  importModule(url: string): Promise<Record<string, unknown>>;
}

/** What a `./app.ts[:export]` argument names. */
export interface AppSpec {
  /** The argument as given (for messages). */
  given: string;
  /** The module's URL. */
  url: string;
  /** The export named after `:`, if any. */
  exportName: string | undefined;
}

/**
 * Splits `./app.ts:name` into the module and the export, and resolves the module against the
 * working directory (absolute paths and `file:`/`https:`/`jsr:`/`npm:` specifiers are taken as
 * they are).
 */
export function parseAppSpec(given: string): AppSpec {
  let path = given;
  let exportName: string | undefined;
  const match = /^(.+):([A-Za-z_$][\w$]*)$/.exec(given);
  if (match && !/^[a-z][a-z0-9+.-]*$/i.test(match[1])) {
    path = match[1];
    exportName = match[2];
  }
  const url = /^[a-z][a-z0-9+.-]+:/i.test(path)
    ? path
    : new URL(path, `file://${getRuntime().cwd().replace(/\/?$/, "/")}`).href;
  return { given, url, exportName };
}

function isApp(value: unknown): value is QueueTasks {
  if (value instanceof QueueTasks) return true;
  // Another copy of the library (a different path or version) loaded by the module.
  const candidate = value as Partial<QueueTasks> | null;
  return typeof candidate === "object" && candidate !== null &&
    typeof candidate.addTask === "function" && typeof candidate.runForever === "function" &&
    typeof candidate.name === "string" && candidate.tasks instanceof Map &&
    typeof candidate.broker === "object";
}

function isTimer(value: unknown): value is Timer {
  if (value instanceof Timer) return true;
  const candidate = value as Partial<Timer> | null;
  return typeof candidate === "object" && candidate !== null &&
    typeof candidate.addTask === "function" && typeof candidate.tick === "function" &&
    isApp(candidate.app);
}

async function importModule(
  spec: AppSpec,
  importer: ModuleImporter,
): Promise<Record<string, unknown>> {
  try {
    return await importer.importModule(spec.url);
  } catch (error) {
    const message = String((error as Error)?.message ?? error).split("\n")[0];
    const code = (error as { code?: unknown } | null)?.code;
    if (code === "ERR_UNKNOWN_FILE_EXTENSION" && /\.[cm]?tsx?$/i.test(spec.url.split(/[?#]/)[0])) {
      throw new CliFailure(`cannot load ${pathOf(spec)}: ${message}. ${TS_ON_OLD_NODE}`);
    }
    throw new CliFailure(`cannot load ${pathOf(spec)}: ${message}`);
  }
}

/** What to do when Node cannot import a `.ts` module (Node before 22.18 strips no types). */
export const TS_ON_OLD_NODE =
  "This Node cannot run TypeScript (Node 22.18 or later can): compile the module to JavaScript " +
  "(tsc) and name the .js file, or run qtasks through a loader: " +
  "npx tsx node_modules/qtasks/bin/qtasks.js worker ./app.ts (or run it on Deno or Bun)";

function pathOf(spec: AppSpec): string {
  return spec.exportName === undefined
    ? spec.given
    : spec.given.slice(0, spec.given.lastIndexOf(":"));
}

/** Picks the export: the named one, else `default`, else `fallback`, else the only match. */
function pick<T>(
  spec: AppSpec,
  module: Record<string, unknown>,
  kind: string,
  matches: (value: unknown) => value is T,
  fallback: string,
): T {
  const path = pathOf(spec);
  if (spec.exportName !== undefined) {
    if (!Object.hasOwn(module, spec.exportName)) {
      throw new CliFailure(`${path} has no export "${spec.exportName}"`);
    }
    const value = module[spec.exportName];
    if (!matches(value)) {
      throw new CliFailure(`${spec.given} is not a ${kind} (got ${describe(value)})`);
    }
    return value;
  }
  for (const name of ["default", fallback]) {
    if (matches(module[name])) return module[name] as T;
  }
  const found = Object.entries(module).filter(([, value]) => matches(value));
  if (found.length === 1) return found[0][1] as T;
  if (found.length > 1) {
    const names = found.map(([name]) => name);
    throw new CliFailure(
      `${path} exports several ${kind}s (${names.join(", ")}): name one, as ${path}:${names[0]}`,
    );
  }
  throw new CliFailure(`${path} has no ${kind} export`);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return (value as { constructor?: { name?: string } }).constructor?.name ?? "object";
}

/**
 * Imports the module and returns its app: the named export (a QueueTasks, or a Timer's app),
 * else `default`, else `app`, else the only QueueTasks it exports.
 *
 * @throws {CliFailure} When the module cannot be loaded or has no (single) app.
 */
export async function loadApp(
  spec: AppSpec,
  importer: ModuleImporter,
): Promise<QueueTasks> {
  const module = await importModule(spec, importer);
  if (spec.exportName !== undefined && isTimer(module[spec.exportName])) {
    return (module[spec.exportName] as Timer).app;
  }
  return pick(spec, module, "QueueTasks", isApp, "app");
}

/**
 * Imports the module and returns its Timer: the named export, else `default`, else `timer`,
 * else the only Timer it exports.
 *
 * @throws {CliFailure} When the module cannot be loaded or has no (single) Timer.
 */
export async function loadTimer(
  spec: AppSpec,
  importer: ModuleImporter,
): Promise<Timer> {
  return pick(spec, await importModule(spec, importer), "Timer", isTimer, "timer");
}

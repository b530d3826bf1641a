/**
 * Builds the npm package `qtasks` from the same sources as the JSR package `@qtasks/qtasks`.
 *
 *   deno run -A scripts/build_npm.ts [--check] [--root DIR] [--out DIR]
 *
 *   --check  also run publint and @arethetypeswrong/cli on the result (from scripts/tools)
 *   --root   the project to build (default: this repository)
 *   --out    where to write (default: ROOT/npm)
 *
 * `deno pack` does the compiling: it transpiles every module reachable from deno.json's exports
 * to ESM JavaScript with inline source maps, emits .d.ts files from the same "fast check" types
 * that `deno publish` checks, and rewrites `./x.ts` and `npm:x@1` imports for npm. This script
 * then makes the result an npm package of its own:
 *
 * - package.json is written from deno.json alone: the npm name `qtasks`, deno.json's version, an
 *   `exports` entry (types first) for every deno.json export, `bin: { qtasks }` when deno.json
 *   exports "./cli", `dependencies` from deno.json's `npm:` imports that the built modules import
 *   (the project's runtime dependencies; the npm packages only tests import, and the tools of
 *   scripts/tools/package.json, are left out), `engines`, `files`.
 * - The inline source maps become `.js.map` files next to their `.js`, with `sources` relative
 *   to the package instead of absolute paths of the build machine (`sourcesContent` keeps the
 *   TypeScript text, so no .ts file is shipped: a .ts next to its .d.ts would be type-checked
 *   under the consumer's settings).
 * - The CLI's file starts with `#!/usr/bin/env node` (its source map shifted to match).
 * - It fails when a .d.ts imports a module that has none, or the code imports an npm package
 *   that deno.json does not declare.
 *
 * Output: ROOT/npm/package/ (the package as installed) and ROOT/npm/qtasks-VERSION.tgz (made by
 * `npm pack`, as `npm publish` would). Needs deno, npm and tar on the PATH.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { cliArgs } from "./cli_args.ts";

/** The npm name (the JSR name, `@qtasks/qtasks`, stays in deno.json). */
const NPM_NAME = "qtasks";
/** The command of the CLI, when deno.json exports "./cli". */
const BIN_NAME = "qtasks";
/** The deno.json export that is the CLI. */
const CLI_EXPORT = "./cli";
/**
 * Oldest Node: redis 6 needs 20.0.0; `AbortSignal.any` (used by the dependency resolver) came in
 * 20.3.0. The smoke test (scripts/smoke_npm.sh) proves Node 20 and 24.
 */
const NODE_ENGINE = ">=20.3.0";
const DESCRIPTION = "A task queue for Deno, Bun and Node: typed tasks, workers on any number of " +
  "machines, awaitable results; Redis in production, in memory for tests.";
const KEYWORDS = [
  "task-queue",
  "job-queue",
  "queue",
  "worker",
  "background-jobs",
  "redis",
  "qtasks",
  "deno",
  "bun",
  "typescript",
];

const USAGE = "usage: deno run -A scripts/build_npm.ts [--check] [--root DIR] [--out DIR]";

/** What deno.json says, as far as this script reads it. */
interface DenoJson {
  name?: string;
  version?: string;
  license?: string;
  exports?: string | Record<string, string>;
  imports?: Record<string, string>;
}

/** The package.json written for npm. */
export interface NpmPackageJson {
  name: string;
  version: string;
  description: string;
  keywords: string[];
  license: string;
  repository?: { type: "git"; url: string };
  type: "module";
  main: string;
  types: string;
  exports: Record<string, { types: string; default: string }>;
  bin?: Record<string, string>;
  files: string[];
  engines: { node: string };
  dependencies: Record<string, string>;
}

/** What one build produced. */
export interface BuildResult {
  /** The package directory (npm/package). */
  packageDir: string;
  /** The tarball (npm/qtasks-VERSION.tgz). */
  tarball: string;
  /** The package.json written. */
  packageJson: NpmPackageJson;
}

/** Runs a command; throws with its output when it fails. Returns its stdout. */
function run(cmd: string, args: string[], cwd: string, quiet = false): string {
  const result = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new Error(`${cmd} could not start: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (exit ${result.status}):\n${result.stdout}${result.stderr}`,
    );
  }
  if (!quiet && result.stderr.trim() !== "") process.stderr.write(result.stderr);
  return result.stdout;
}

/** Every file under `dir`, as paths relative to it, with "/" separators. */
function walk(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...walk(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}

/** deno.json's exports as a map (a string export is "."). */
function exportMap(deno: DenoJson): Record<string, string> {
  if (typeof deno.exports === "string") return { ".": deno.exports };
  if (deno.exports === undefined || Object.keys(deno.exports).length === 0) {
    throw new Error("deno.json has no exports");
  }
  return deno.exports;
}

/** `./src/x.ts` → `./src/x` (the path without its TypeScript extension). */
function stem(path: string): string {
  const match = /\.(ts|mts|tsx|js|mjs)$/.exec(path);
  if (match === null) throw new Error(`deno.json export ${path} is not a TypeScript module`);
  return (path.startsWith("./") ? path : `./${path}`).slice(0, -match[0].length);
}

/**
 * The runtime dependencies: every `npm:` import of deno.json, with a caret range from its pinned
 * version (`npm:redis@6.3.1` → `"redis": "^6.3.1"`).
 */
export function runtimeDependencies(imports: Record<string, string>): Record<string, string> {
  const deps: Record<string, string> = {};
  for (const [alias, target] of Object.entries(imports).sort(([a], [b]) => a.localeCompare(b))) {
    if (target.startsWith("jsr:")) {
      throw new Error(
        `deno.json imports ${alias} from JSR (${target}): the npm package cannot depend on it`,
      );
    }
    const match = /^npm:(@?[^@/]+(?:\/[^@/]+)?)@([^/]+)$/.exec(target);
    if (match === null) continue; // a local path or URL: not a dependency
    const [, name, version] = match;
    deps[name] = /^\d/.test(version) ? `^${version}` : version;
  }
  return deps;
}

/** The git remote `origin` as an npm repository field, if there is one. */
function repository(root: string): NpmPackageJson["repository"] {
  const result = spawnSync("git", ["remote", "get-url", "origin"], { cwd: root, encoding: "utf8" });
  const url = result.status === 0 ? result.stdout.trim() : "";
  // A local path (a clone of a clone, as in CI) is no repository users can reach.
  if (!/^(git@[^:]+:|(git\+)?(https?|ssh|git):\/\/)/.test(url)) return undefined;
  const https = url.replace(/^git@([^:]+):/, "https://$1/");
  return { type: "git", url: https.startsWith("git+") ? https : `git+${https}` };
}

/** The base64 inline source map comment deno pack writes at the end of each .js. */
const INLINE_MAP = /\n?\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/;

/**
 * Moves the inline source map of `pkgDir/rel` into `rel.map`, with `sources` relative to the
 * package. With `shebang`, the file gets that first line and the map one empty line first.
 */
function externalizeSourceMap(pkgDir: string, rel: string, shebang?: string): void {
  const path = join(pkgDir, rel);
  let code = readFileSync(path, "utf8");
  let shift = false;
  if (shebang !== undefined) {
    // deno pack transpiles without a source shebang and puts it back on top afterwards, so the
    // map does not count that line: either way the code below the new first line needs a shift.
    if (code.startsWith("#!")) code = code.slice(code.indexOf("\n") + 1);
    shift = true;
  }
  const match = INLINE_MAP.exec(code);
  if (match === null) throw new Error(`${rel} has no inline source map`);
  const map = JSON.parse(atob(match[1])) as {
    sources: string[];
    file?: string;
    mappings: string;
  };
  const sourceRel = rel.replace(/\.js$/, ".ts").replace(/\.mjs$/, ".mts");
  map.file = basename(rel);
  map.sources = map.sources.map(() => relative(dirname(rel), sourceRel).replaceAll("\\", "/"));
  if (shift) map.mappings = `;${map.mappings}`;
  code = code.slice(0, match.index) + `\n//# sourceMappingURL=${basename(rel)}.map\n`;
  writeFileSync(path, (shebang === undefined ? "" : `${shebang}\n`) + code);
  writeFileSync(`${path}.map`, JSON.stringify(map));
}

/**
 * The specifiers a module imports or re-exports: static `import`/`export … from` statements at
 * the start of a line (deno pack may put them right after the end of a comment), and dynamic
 * `import("…")` on lines that are not comments. JSDoc examples (` * import …`) and template
 * strings (the Lua scripts) do not count.
 */
function specifiers(code: string): string[] {
  const found = new Set<string>();
  const statement =
    /^(?:\s*\*\/)?\s*(?:import|export)\b[^;]*?(?:\bfrom\s*|import\s*)["']([^"']+)["']/gm;
  for (const m of code.matchAll(statement)) found.add(m[1]);
  for (const line of code.split("\n")) {
    if (/^\s*(\*|\/\/|\/\*)/.test(line)) continue;
    for (const m of line.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) found.add(m[1]);
  }
  return [...found];
}

/** The package a bare specifier names (`redis`, `@redis/client`); undefined for others. */
function packageName(spec: string): string | undefined {
  if (spec.startsWith(".") || spec.startsWith("/") || spec.startsWith("#")) return undefined;
  if (/^[a-z]+:/.test(spec)) return undefined; // node:, data:, …
  const parts = spec.split("/");
  return spec.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** The packages the built modules (.js and .d.ts) import. */
function importedPackages(pkgDir: string): Set<string> {
  const names = new Set<string>();
  for (const rel of walk(pkgDir)) {
    if (!rel.endsWith(".js") && !rel.endsWith(".d.ts")) continue;
    for (const spec of specifiers(readFileSync(join(pkgDir, rel), "utf8"))) {
      const name = packageName(spec);
      if (name !== undefined) names.add(name);
    }
  }
  return names;
}

/**
 * Checks the built package: every export has its .js and .d.ts, every relative import of a .js
 * or .d.ts resolves inside the package, and every package imported is a dependency.
 */
function verify(pkgDir: string, pkg: NpmPackageJson): void {
  const files = new Set(walk(pkgDir));
  const problems: string[] = [];
  for (const [key, target] of Object.entries(pkg.exports)) {
    for (const path of [target.types, target.default]) {
      if (!files.has(path.slice(2))) problems.push(`export ${key}: ${path} is missing`);
    }
  }
  const allowed = new Set([...Object.keys(pkg.dependencies), NPM_NAME]);
  for (const rel of files) {
    const isDts = rel.endsWith(".d.ts");
    if (!isDts && !rel.endsWith(".js")) continue;
    const code = readFileSync(join(pkgDir, rel), "utf8");
    for (const spec of specifiers(code)) {
      const name = packageName(spec);
      if (name !== undefined) {
        if (!allowed.has(name)) {
          problems.push(`${rel} imports ${name}, which deno.json does not declare (imports)`);
        }
        continue;
      }
      if (!spec.startsWith(".")) continue;
      const target = join(dirname(rel), spec).replaceAll("\\", "/");
      const wanted = isDts ? target.replace(/\.js$/, ".d.ts") : target;
      if (!files.has(wanted)) problems.push(`${rel} imports ${spec}, but ${wanted} is not built`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`the built package is broken:\n  ${problems.join("\n  ")}`);
  }
}

/**
 * Builds the package of `root` into `out`.
 *
 * @param root The project (where deno.json is).
 * @param out The output directory (emptied first).
 * @returns Where the package and the tarball are, and the package.json.
 */
export function buildNpm(root: string, out: string): BuildResult {
  const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8")) as DenoJson;
  if (deno.version === undefined) throw new Error("deno.json has no version");
  const version = deno.version;
  const exports = exportMap(deno);

  // 1. deno pack, into a temporary tarball, then unpacked into OUT/package.
  const scratch = mkdtempSync(join(tmpdir(), "qtasks-pack-"));
  try {
    const packed = join(scratch, "pack.tgz");
    const result = spawnSync("deno", ["pack", "--allow-dirty", "-o", packed], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
    });
    if (result.error) throw new Error(`deno could not start: ${result.error.message}`);
    if (result.status !== 0) throw new Error(`deno pack failed:\n${result.stdout}${result.stderr}`);
    // deno pack warns "Could not generate types for X" for each module that no public type
    // reaches (fast check only types the public API, as for JSR): those modules need no .d.ts,
    // which verify() proves. Anything else it says is shown.
    const progress = /^(Packing |Check |Initialize |Download |\d+ (modules|assets) collected|✓ )/;
    const untyped = /^Could not generate types for '.*'\. Types will not be included/;
    const warnings = (result.stdout + result.stderr).split("\n").map((line) => line.trim())
      .filter((line) => line !== "" && !progress.test(line) && !untyped.test(line));
    if (warnings.length > 0) process.stderr.write(`deno pack:\n${warnings.join("\n")}\n`);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    run("tar", ["-xzf", packed, "-C", out], root);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const pkgDir = join(out, "package");
  // deno.json's npm imports that the built modules import: dev tools the tests import (the
  // OpenTelemetry SDK, a Prometheus parser) are left out.
  const used = importedPackages(pkgDir);
  const dependencies = Object.fromEntries(
    Object.entries(runtimeDependencies(deno.imports ?? {})).filter(([name]) => used.has(name)),
  );

  // 2. Source maps out of line; the CLI gets its node shebang.
  const cli = exports[CLI_EXPORT] === undefined ? undefined : `${stem(exports[CLI_EXPORT])}.js`;
  for (const rel of walk(pkgDir)) {
    if (!rel.endsWith(".js") && !rel.endsWith(".mjs")) continue;
    const isCli = cli !== undefined && `./${rel}` === cli;
    externalizeSourceMap(pkgDir, rel, isCli ? "#!/usr/bin/env node" : undefined);
  }

  // The bin: bin/qtasks.js, which marks the run as the command line (Node 20 has no
  // import.meta.main) and imports the compiled CLI module.
  let bin: string | undefined;
  if (cli !== undefined) {
    const shim = readFileSync(join(root, "bin", `${BIN_NAME}.js`), "utf8");
    const target = `../${cli.slice(2)}`;
    const call = /import\("[^"]+"\)/;
    if (!call.test(shim)) {
      throw new Error(`bin/${BIN_NAME}.js has no import("...") to point at ${cli}`);
    }
    const rewritten = shim.replace(call, `import("${target}")`);
    mkdirSync(join(pkgDir, "bin"), { recursive: true });
    writeFileSync(join(pkgDir, "bin", `${BIN_NAME}.js`), rewritten, { mode: 0o755 });
    bin = `./bin/${BIN_NAME}.js`;
  }

  // 3. package.json, from deno.json only.
  const npmExports: NpmPackageJson["exports"] = {};
  for (const [key, path] of Object.entries(exports)) {
    npmExports[key] = { types: `${stem(path)}.d.ts`, default: `${stem(path)}.js` };
  }
  const main = npmExports["."] ?? Object.values(npmExports)[0];
  const always = new Set(["package.json", "README.md", "LICENSE"]);
  const packageJson: NpmPackageJson = {
    name: NPM_NAME,
    version,
    description: DESCRIPTION,
    keywords: KEYWORDS,
    license: deno.license ?? "MIT",
    repository: repository(root),
    type: "module",
    main: main.default,
    types: main.types,
    exports: npmExports,
    bin: bin === undefined ? undefined : { [BIN_NAME]: bin },
    files: readdirSync(pkgDir).filter((name) => !always.has(name)).sort(),
    engines: { node: NODE_ENGINE },
    dependencies,
  };
  if (packageJson.repository === undefined) delete packageJson.repository;
  if (packageJson.bin === undefined) delete packageJson.bin;
  writeFileSync(join(pkgDir, "package.json"), `${JSON.stringify(packageJson, null, 2)}\n`);
  verify(pkgDir, packageJson);

  // 4. The tarball, as npm publish would make it.
  const name = run("npm", ["pack", "--silent", "--pack-destination", out], pkgDir).trim()
    .split("\n").pop()!;
  return { packageDir: pkgDir, tarball: join(out, name), packageJson };
}

/** Runs publint and attw (from scripts/tools) on the build; true when both are clean. */
export function checkNpm(root: string, build: BuildResult): boolean {
  const bin = join(root, "scripts/tools/node_modules/.bin");
  if (!existsSync(join(bin, "publint")) || !existsSync(join(bin, "attw"))) {
    throw new Error("publint or attw is missing: run `bash scripts/tools.sh` first");
  }
  const env = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH ?? ""}`,
    NO_COLOR: "1",
    FORCE_COLOR: "0",
  };
  let ok = true;
  const tools: [string, string[]][] = [
    // --strict: warnings fail too. --pack false: check the directory as built.
    ["publint", ["--strict", "--pack", "false", build.packageDir]],
    // esm-only: the package is ESM by design (type: module, no require condition), so attw's
    // "CommonJS cannot require it" resolution modes are not problems for it.
    ["attw", ["--profile", "esm-only", "--format", "table-flipped", build.tarball]],
  ];
  for (const [tool, args] of tools) {
    console.log(
      `$ ${tool} ${args.map((a) => a.startsWith("/") ? relative(root, a) : a).join(" ")}`,
    );
    const result = spawnSync(join(bin, tool), args, { cwd: root, encoding: "utf8", env });
    process.stdout.write(result.stdout);
    process.stdout.write(result.stderr);
    if (result.status !== 0) {
      console.log(`${tool}: FAILED (exit ${result.status})`);
      ok = false;
    }
  }
  return ok;
}

if (import.meta.main) {
  const here = dirname(fileURLToPath(import.meta.url));
  let root = resolve(here, "..");
  let out: string | undefined;
  let check = false;
  for (const { flag, value } of cliArgs(process.argv.slice(2), USAGE)) {
    if (flag === "--check") check = true;
    else if (flag === "--root") root = resolve(value());
    else if (flag === "--out") out = resolve(value());
    else {
      console.error(`unknown argument ${flag}\n${USAGE}`);
      process.exit(2);
    }
  }
  try {
    const build = buildNpm(root, out ?? join(root, "npm"));
    const files = walk(build.packageDir);
    console.log(
      `built ${relative(root, build.tarball)}: ${files.filter((f) => f.endsWith(".js")).length} ` +
        `.js, ${files.filter((f) => f.endsWith(".d.ts")).length} .d.ts, ` +
        `${files.filter((f) => f.endsWith(".map")).length} .js.map`,
    );
    console.log(JSON.stringify(build.packageJson, null, 2));
    if (check && !checkNpm(root, build)) process.exit(1);
  } catch (error) {
    console.error(`build_npm: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}

/**
 * Every name an entry module exports (each module deno.json's `exports` lists: mod.ts and the
 * subpaths) is documented with an example: its declaration has a JSDoc block with an `@example`.
 * Reads the sources as text (no TypeScript compiler): the entry's `export { … } from "…"` and
 * `export type { … } from "…"` statements, then the declaration of each name in its file
 * (following further re-exports), then the comment right above it.
 *
 * Also keeps the public API curated: mod.ts exports at most {@linkcode MAX_ROOT_EXPORTS} names,
 * and no entry module re-exports a private module (a file whose name starts with `_`).
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const ROOT = new URL("../../", import.meta.url);

/** The entry modules: every module deno.json exports, by export name (".", "./redis", …). */
const ENTRIES: Map<string, URL> = new Map(
  Object.entries(
    (JSON.parse(readFileSync(new URL("deno.json", ROOT), "utf8")) as {
      exports: Record<string, string>;
    }).exports,
  ).map(([name, path]) => [name, new URL(path, ROOT)]),
);

/**
 * The most names mod.ts may export: what an app author needs (the app, handles, results, flows,
 * the worker pool, the timer, task options and context, every error class, plugins, events,
 * logger, config, stats), with room for the few error classes still to come. Anything else
 * belongs in a subpath (./redis, ./memory, ./postgres, ./ports, ./runtime) or stays internal.
 */
const MAX_ROOT_EXPORTS = 80;

/** One name a module exports, and where it comes from. */
interface ExportedName {
  /** The name importers use. */
  name: string;
  /** The name in the module it comes from (differs with `export { a as b }`). */
  local: string;
  /** The module it comes from; undefined when declared in the exporting module itself. */
  from: URL | undefined;
}

/** Where a declaration was found, and the JSDoc block right above it (if any). */
interface Declaration {
  file: URL;
  line: number;
  jsdoc: string | undefined;
}

/** The source text with comments blanked out (same length, so indices still match). */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (comment) => comment.replace(/[^\n]/g, " "));
}

/** The names listed by the `export [type] { … } [from "…"]` statements of a module. */
function exportLists(file: URL): ExportedName[] {
  const text = withoutComments(readFileSync(file, "utf8"));
  const names: ExportedName[] = [];
  const statement = /^export\s+(?:type\s+)?\{([^}]*)\}\s*(?:from\s*["']([^"']+)["'])?\s*;?/gm;
  for (const [, list, from] of text.matchAll(statement)) {
    for (const part of list.split(",")) {
      const entry = part.trim().replace(/^type\s+/, "");
      if (entry === "") continue;
      const [local, name = local] = entry.split(/\s+as\s+/).map((s) => s.trim());
      names.push({ name, local, from: from === undefined ? undefined : new URL(from, file) });
    }
  }
  assert.doesNotMatch(text, /^export\s+\*/m, `${file.pathname}: export * cannot be checked`);
  return names;
}

/**
 * The JSDoc block that ends right above `index` in `text`, if there is one. Comments are read
 * from the start of the file, so a `/**` inside a comment (`redis://***@host`) opens nothing.
 */
function jsdocAbove(text: string, index: number): string | undefined {
  const end = text.slice(0, index).trimEnd().length;
  for (const comment of text.matchAll(/\/\*[\s\S]*?\*\//g)) {
    if (comment.index + comment[0].length === end) {
      return comment[0].startsWith("/**") ? comment[0] : undefined;
    }
    if (comment.index > end) break;
  }
  return undefined;
}

/** Finds where `name` is declared, starting in `file` and following re-exports. */
function declarationOf(name: string, file: URL, seen = new Set<string>()): Declaration {
  const key = `${file.href}#${name}`;
  assert.ok(!seen.has(key), `${name}: re-export cycle through ${file.pathname}`);
  seen.add(key);
  const text = readFileSync(file, "utf8");
  const code = withoutComments(text);
  const escaped = name.replace(/[$]/g, "\\$");
  const kinds =
    "(?:abstract\\s+)?(?:async\\s+)?(?:class|function\\*?|interface|type|const|let|var|enum|namespace)";
  // The exported declaration itself; else a local one exported by an `export { … }` list.
  const declaration = new RegExp(`^(?:export\\s+)?(?:declare\\s+)?${kinds}\\s+${escaped}\\b`, "m");
  const exported = new RegExp(`^export\\s+(?:declare\\s+)?${kinds}\\s+${escaped}\\b`, "m");
  const match = exported.exec(code) ?? declaration.exec(code);
  if (match !== null) {
    return {
      file,
      line: text.slice(0, match.index).split("\n").length,
      jsdoc: jsdocAbove(text, match.index),
    };
  }
  const reexport = exportLists(file).find((entry) => entry.name === name);
  assert.ok(reexport?.from, `${name} is neither declared nor re-exported in ${file.pathname}`);
  return declarationOf(reexport.local, reexport.from, seen);
}

/** The names an entry module exports, with the declaration of each. */
function entryExports(entry: URL): Map<string, Declaration> {
  const found = new Map<string, Declaration>();
  for (const { name, local, from } of exportLists(entry)) {
    found.set(name, declarationOf(local, from ?? entry, new Set()));
  }
  return found;
}

/** `src/ports/mod.ts`: a path relative to the repository, for messages. */
function relative(url: URL): string {
  return url.pathname.slice(ROOT.pathname.length);
}

test("deno.json exports mod.ts and the subpath entry modules", () => {
  assert.equal(ENTRIES.get(".")?.href, new URL("mod.ts", ROOT).href);
  for (const subpath of ["./redis", "./memory", "./postgres", "./ports", "./runtime"]) {
    assert.match(relative(ENTRIES.get(subpath)!), /^src\/.+\/mod\.ts$/, subpath);
  }
});

test("the export statements of each entry module name every value it exports", async () => {
  for (const [name, entry] of ENTRIES) {
    if (exportLists(entry).length === 0) continue; // the pool thread's entry: runs, exports nothing
    const listed = new Set(entryExports(entry).keys());
    const module = await import(entry.href) as Record<string, unknown>;
    const values = Object.keys(module).filter((value) => !listed.has(value));
    assert.deepEqual(values, [], `${name}: exported values that the statement parser missed`);
  }
  const root = await import(ENTRIES.get(".")!.href) as Record<string, unknown>;
  assert.ok(
    entryExports(ENTRIES.get(".")!).size > Object.keys(root).length,
    "types are listed too",
  );
});

test("every export of every entry module has a JSDoc block with an @example", () => {
  const missing: string[] = [];
  for (const [entryName, entry] of ENTRIES) {
    for (const [name, { file, line, jsdoc }] of entryExports(entry)) {
      const where = `${relative(file)}:${line}`;
      if (jsdoc === undefined) missing.push(`${entryName} ${name} (${where}): no JSDoc`);
      else if (!/^\s*\*\s*@example\b/m.test(jsdoc)) {
        missing.push(`${entryName} ${name} (${where}): no @example`);
      }
    }
  }
  assert.deepEqual(missing, []);
});

test(`mod.ts exports at most ${MAX_ROOT_EXPORTS} names`, () => {
  const names = [...entryExports(ENTRIES.get(".")!).keys()];
  assert.ok(
    names.length <= MAX_ROOT_EXPORTS,
    `mod.ts exports ${names.length} names: move what an app author does not need to a subpath`,
  );
});

test("no entry module re-exports a private module (a file named _*.ts)", () => {
  const found: string[] = [];
  for (const [name, entry] of ENTRIES) {
    for (const { name: exported, from } of exportLists(entry)) {
      if (from !== undefined && from.pathname.split("/").pop()!.startsWith("_")) {
        found.push(`${name} re-exports ${exported} from ${relative(from)}`);
      }
    }
  }
  assert.deepEqual(found, []);
});

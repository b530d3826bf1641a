/**
 * Every name mod.ts exports is documented with an example: its declaration has a JSDoc block
 * with an `@example`. Reads the sources as text (no TypeScript compiler): mod.ts's
 * `export { … } from "…"` and `export type { … } from "…"` statements, then the declaration of
 * each name in its file (following further re-exports), then the comment right above it.
 *
 * @module
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as mod from "../../mod.ts";

const MOD = new URL("../../mod.ts", import.meta.url);

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

/** The names mod.ts exports, with the declaration of each. */
function modExports(): Map<string, Declaration> {
  const found = new Map<string, Declaration>();
  for (const entry of exportLists(MOD)) {
    found.set(entry.name, declarationOf(entry.local, entry.from ?? MOD));
  }
  return found;
}

test("the export statements of mod.ts name every value the module exports", () => {
  const listed = new Set(modExports().keys());
  const values = Object.keys(mod).filter((name) => !listed.has(name));
  assert.deepEqual(values, [], "exported values that the statement parser missed");
  assert.ok(listed.size > Object.keys(mod).length, "the type-only exports are listed too");
});

test("every export of mod.ts has a JSDoc block with an @example", () => {
  const missing: string[] = [];
  for (const [name, { file, line, jsdoc }] of modExports()) {
    const where = `${file.pathname.split("/").slice(-2).join("/")}:${line}`;
    if (jsdoc === undefined) missing.push(`${name} (${where}): no JSDoc`);
    else if (!/^\s*\*\s*@example\b/m.test(jsdoc)) missing.push(`${name} (${where}): no @example`);
  }
  assert.deepEqual(missing, []);
});

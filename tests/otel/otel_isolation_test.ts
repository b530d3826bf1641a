/**
 * `@opentelemetry/api` is loaded only by the `./otel` subpath: no module reachable from any other
 * entry point (mod.ts, cli.ts, ./redis, ./memory, ./ports, ./runtime, ./metrics, …) imports it.
 * Walks the static import graph from the sources (type-only imports included), so it runs the
 * same on Deno, Bun and Node.
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { readFileSync } from "node:fs";

const ROOT = new URL("../../", import.meta.url);
const EXPORTS = (JSON.parse(readFileSync(new URL("deno.json", ROOT), "utf8")) as {
  exports: Record<string, string>;
}).exports;

/** Every specifier of an `import`/`export … from`, and of a literal dynamic `import("…")`. */
function specifiers(code: string): string[] {
  const found: string[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g;
  for (const match of code.matchAll(pattern)) found.push(match[1]);
  return found;
}

/** The bare packages reachable from `entry`, with the module that imports each. */
function reachablePackages(entry: URL): Map<string, string> {
  const packages = new Map<string, string>();
  const seen = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const url = stack.pop()!;
    if (seen.has(url.href)) continue;
    seen.add(url.href);
    const code = readFileSync(url, "utf8").replace(/^\s*\*.*$/gm, "").replace(/\/\/.*$/gm, "");
    for (const spec of specifiers(code)) {
      if (spec.startsWith(".")) {
        if (spec.endsWith(".ts")) stack.push(new URL(spec, url));
      } else if (!spec.startsWith("node:") && !packages.has(spec)) {
        packages.set(spec, url.href.slice(ROOT.href.length));
      }
    }
  }
  return packages;
}

test("the otel subpath is the only entry point that reaches @opentelemetry/api", () => {
  assert.ok(EXPORTS["./otel"], "deno.json exports ./otel");
  const otel = reachablePackages(new URL(EXPORTS["./otel"], ROOT));
  assert.ok(otel.has("@opentelemetry/api"), "the walk finds the import it looks for");
  for (const [name, path] of Object.entries(EXPORTS)) {
    if (name === "./otel") continue;
    const reached = reachablePackages(new URL(path, ROOT));
    const otelPackages = [...reached].filter(([spec]) => spec.startsWith("@opentelemetry/"));
    assert.deepEqual(otelPackages, [], `${name} (${path}) must not load OpenTelemetry`);
  }
});

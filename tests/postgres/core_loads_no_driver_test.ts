/**
 * Importing `@qtasks/qtasks` (mod.ts) and creating an app on a `postgres://` URL loads neither
 * the PostgreSQL backend nor its driver; starting the app loads both. Runs the fixture under
 * Node, whose module hooks list every module loaded.
 *
 * @module
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const fixture = fileURLToPath(new URL("./fixtures/core_modules.mjs", import.meta.url));

/** The first `node` on PATH that is Node itself (`bun test` puts a `node` that is Bun first). */
function findNode(): string {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, "node");
    if (!existsSync(candidate)) continue;
    const isBun = execFileSync(candidate, ["-p", "Boolean(process.versions.bun)"]).toString();
    if (isBun.trim() === "false") return candidate;
  }
  throw new Error("no Node executable on PATH");
}

/** Runs the fixture under Node; resolves with what it printed. */
function run(...args: string[]): Promise<{ total: number; postgres: string[] }> {
  return new Promise((resolve, reject) => {
    execFile(findNode(), [fixture, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split("\n").pop()!));
    });
  });
}

test("importing the core and creating an app on a postgres:// URL loads no PostgreSQL module", async () => {
  const { total, postgres } = await run();
  assert.ok(total > 10, `the hooks saw the core's modules (${total})`);
  assert.deepEqual(postgres, []);
});

test("starting that app loads the PostgreSQL backend and its driver", async () => {
  const { postgres } = await run("start");
  assert.ok(
    postgres.some((url) => url.includes("/backends/postgres/postgres_broker.ts")),
    String(postgres),
  );
  assert.ok(postgres.some((url) => url.includes("/node_modules/postgres/")), String(postgres));
});

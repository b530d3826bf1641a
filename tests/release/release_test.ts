/**
 * scripts/release.ts refuses what must never be released, before it builds anything: a tag that
 * does not match deno.json's version, an unknown flag. Fast: part of the default suite. The whole
 * dry run (build, checks, `deno publish --dry-run`, `npm publish --dry-run`) is
 * tests/release/release_dry_run.ts, run apart (see docs/releasing.md).
 *
 * @module
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { repoPath } from "../support/e2e_env.ts";
import { spawnRuntime } from "../support/spawn_runtime.ts";

const RELEASE = repoPath("scripts/release.ts");

async function release(args: string[], env: Record<string, string> = {}) {
  const child = spawnRuntime(RELEASE, { args, env: { NO_COLOR: "1", ...env } });
  try {
    return { code: await child.exitCode(60_000), stdout: child.stdout, stderr: child.stderr };
  } finally {
    await child.kill();
  }
}

test("release refuses a tag that does not match deno.json's version, before building", async () => {
  const run = await release(["--dry-run", "--allow-dirty"], {
    GITHUB_REF_TYPE: "tag",
    GITHUB_REF_NAME: "v999.0.0",
  });
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout, /^release: version \d+\.\d+\.\d+ \(deno\.json\), dry run$/m);
  assert.match(run.stderr, /release: FAILED: tag v999\.0\.0 does not match deno\.json's version/);
  assert.doesNotMatch(run.stdout, /build_npm|smoke_npm/);
});

test("release refuses an unknown flag", async () => {
  const run = await release(["--publish-now"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /release: unknown flag --publish-now/);
});

/**
 * The whole release, as a dry run: `deno run -A scripts/release.ts --dry-run --allow-dirty`
 * builds the npm package, runs its smoke test, then `deno publish --dry-run` and
 * `npm publish --dry-run`; nothing is uploaded. It takes minutes (the smoke test installs and
 * runs the package on four runtimes), so it is not in the default suite:
 *
 *   deno test -A tests/release/release_dry_run.ts            (Redis at QTASKS_TEST_REDIS_URL)
 *   RELEASE_SKIP_SMOKE=1 deno test -A tests/release/release_dry_run.ts   (build only: seconds)
 *
 * Needs deno and npm on the PATH (`export PATH="$(bash scripts/tools.sh):$PATH"`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";
import { test } from "node:test";
import { repoPath } from "../support/e2e_env.ts";

test("a dry-run release builds, checks and dry-runs both publishes, and uploads nothing", () => {
  const args = ["run", "-A", repoPath("scripts/release.ts"), "--dry-run", "--allow-dirty"];
  if (process.env.RELEASE_SKIP_SMOKE === "1") args.push("--skip-smoke");
  // No token reaches it: even without --dry-run it would not upload.
  const env = { ...process.env, NO_COLOR: "1", NPM_TOKEN: "", JSR_TOKEN: "" };
  const run = spawnSync("deno", args, { cwd: repoPath("."), env, encoding: "utf8" });
  const output = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.status, 0, output);
  const version = JSON.parse(readFileSync(repoPath("deno.json"), "utf8")).version;
  assert.match(
    run.stdout,
    new RegExp(`^release: version ${version} \\(deno\\.json\\), dry run$`, "m"),
  );
  assert.match(run.stdout, /^release: \$ deno publish --dry-run/m);
  assert.match(
    run.stdout,
    new RegExp(`^release: \\$ npm publish .*qtasks-${version}\\.tgz --dry-run$`, "m"),
  );
  assert.match(
    run.stdout,
    new RegExp(`^release: ${version} done \\(JSR: dry run, npm: dry run\\)$`, "m"),
  );
  assert.doesNotMatch(run.stdout, /--provenance/);
});

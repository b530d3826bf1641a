/**
 * Releases the package: `@qtasks/qtasks` on JSR and `qtasks` on npm, from one commit.
 *
 *   deno run -A scripts/release.ts [--dry-run] [--skip-smoke] [--allow-dirty]
 *
 * Steps, each printed as `release: …`, stopping at the first failure:
 *
 * 1. The version is deno.json's `version` (the npm package.json is written from it).
 * 2. Checks: the work tree is clean (`git status --porcelain`; `--allow-dirty` skips it); when
 *    HEAD is tagged (or `GITHUB_REF_NAME` names a tag, as on a CI tag push), the tag is
 *    `vVERSION`; the version is semver.
 * 3. Builds the npm package and runs its smoke test first (`bash scripts/smoke_npm.sh`: builds,
 *    installs the tarball, runs it on Node 20, Node 24, Bun and Deno, type-checks a consumer and
 *    runs `deno publish --dry-run`); `--skip-smoke` only builds (`scripts/build_npm.ts --check`).
 * 4. JSR: `deno publish` (OIDC on GitHub Actions, or `JSR_TOKEN`); without either, or with
 *    `--dry-run`, `deno publish --dry-run`.
 * 5. npm: `npm publish --provenance` of the built tarball (`NPM_TOKEN`, written to a temporary
 *    .npmrc, never printed); without it, or with `--dry-run`, `npm publish --dry-run`.
 *
 * So it can be run anywhere: without tokens (or with `--dry-run`) nothing is uploaded, and every
 * other step runs for real. The last line is `release: VERSION done (…)` with what was uploaded.
 * `.github/workflows/release.yml` runs it on a `v*` tag; docs/releasing.md describes the release.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
const flags = new Set(process.argv.slice(2));
for (const flag of flags) {
  if (!["--dry-run", "--skip-smoke", "--allow-dirty"].includes(flag)) {
    console.error(`release: unknown flag ${flag} (--dry-run, --skip-smoke, --allow-dirty)`);
    process.exit(2);
  }
}
const dryRun = flags.has("--dry-run");

function say(text: string): void {
  console.log(`release: ${text}`);
}

function fail(text: string): never {
  console.error(`release: FAILED: ${text}`);
  process.exit(1);
}

/** Runs a command in the repository, its output shown; fails the release when it fails. */
function run(command: string, args: string[], env: Record<string, string> = {}): void {
  say(`$ ${command} ${args.join(" ")}`);
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, ...env },
  });
  if (result.status !== 0) fail(`${command} ${args.join(" ")} exited ${result.status}`);
}

/** Runs a command and returns its standard output; a command that fails stops the release. */
function read(command: string, args: string[]): string {
  const result = spawnSync(command, args, { cwd: root, encoding: "utf8" });
  if (result.status !== 0) {
    fail(`${command} ${args.join(" ")} failed: ${(result.stderr ?? String(result.error)).trim()}`);
  }
  return result.stdout.trim();
}

// 1. The version.
const version = (JSON.parse(readFileSync(join(root, "deno.json"), "utf8")) as { version?: string })
  .version;
if (!version || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) {
  fail(`deno.json has no semver "version" (got ${JSON.stringify(version)})`);
}
say(`version ${version} (deno.json)${dryRun ? ", dry run" : ""}`);

// 2. Checks.
if (!flags.has("--allow-dirty")) {
  const dirty = read("git", ["status", "--porcelain"]);
  if (dirty !== "") fail(`the work tree is not clean:\n${dirty}`);
  say("work tree clean");
}
const tags = [
  ...read("git", ["tag", "--points-at", "HEAD"]).split("\n"),
  ...(process.env.GITHUB_REF_TYPE === "tag" && process.env.GITHUB_REF_NAME
    ? [process.env.GITHUB_REF_NAME]
    : []),
].filter((tag) => /^v\d/.test(tag));
for (const tag of tags) {
  if (tag !== `v${version}`) fail(`tag ${tag} does not match deno.json's version ${version}`);
}
say(tags.length > 0 ? `tag v${version} matches` : "HEAD carries no version tag");

// 3. Build, and the smoke test of the built package first.
if (flags.has("--skip-smoke")) {
  run("deno", ["run", "-A", "scripts/build_npm.ts", "--check"]);
} else {
  run("bash", ["scripts/smoke_npm.sh"]);
}
const tarball = join(root, "npm", `qtasks-${version}.tgz`);
try {
  readFileSync(tarball);
} catch {
  fail(`the build wrote no ${tarball}`);
}

// 4. JSR.
const oidc = process.env.ACTIONS_ID_TOKEN_REQUEST_URL !== undefined;
const jsrToken = process.env.JSR_TOKEN ?? "";
const jsrUpload = !dryRun && (oidc || jsrToken !== "");
if (jsrUpload) {
  run("deno", ["publish", ...(jsrToken ? ["--token", jsrToken] : [])]);
} else {
  say(dryRun ? "JSR: dry run" : "JSR: no JSR_TOKEN and no OIDC: dry run only");
  run("deno", ["publish", "--dry-run", ...(flags.has("--allow-dirty") ? ["--allow-dirty"] : [])]);
}

// 5. npm, with provenance (needs OIDC: a GitHub Actions job with `id-token: write`).
const npmToken = process.env.NPM_TOKEN ?? "";
const npmUpload = !dryRun && npmToken !== "";
if (npmUpload) {
  const config = mkdtempSync(join(tmpdir(), "qtasks-release-"));
  const npmrc = join(config, ".npmrc");
  writeFileSync(npmrc, "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n", { mode: 0o600 });
  try {
    run("npm", ["publish", tarball, "--provenance", "--access", "public"], {
      NPM_CONFIG_USERCONFIG: npmrc,
    });
  } finally {
    rmSync(config, { recursive: true, force: true });
  }
} else {
  say(dryRun ? "npm: dry run" : "npm: no NPM_TOKEN: dry run only");
  run("npm", ["publish", tarball, "--dry-run"]);
}

say(
  `${version} done (JSR: ${jsrUpload ? "published" : "dry run"}, npm: ${
    npmUpload ? "published with provenance" : "dry run"
  })`,
);

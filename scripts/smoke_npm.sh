#!/usr/bin/env bash
# The npm package smoke test (CI: `bash scripts/test.sh npm`; alone: `bash scripts/smoke_npm.sh`).
#
# Builds the npm package (scripts/build_npm.ts, with publint and attw), installs the tarball into
# a scratch project in a temporary directory (npm install pulls redis, zod and croner from the
# registry), then proves it:
#   - a worker process and a producer process over Redis, on Node 20, Node 24 and Bun, from the
#     installed package (copies of scripts/smoke_npm/*.mjs importing "qtasks"); the producer
#     checks the results;
#   - tsc (scripts/tools) type-checks a TypeScript consumer against the package's .d.ts, and a
#     file passing a wrong task argument fails to compile with TS2345;
#   - Deno: a scratch project imports `jsr:@qtasks/qtasks` linked to this repository (deno.json
#     "links"), so it resolves through deno.json's name and exports as a JSR install would, and
#     runs the same round trip (scripts/smoke_npm/*.mjs as they are);
#   - `deno publish --dry-run`: no slow types, nothing left out of the JSR package.
#
# Node 20 is the machine's `node` when its major version is 20; otherwise (missing, or another
# version) the pinned Node 20 of scripts/tools/node20/package.json is installed from the npm
# registry into scripts/tools/node20/node_modules (it cannot share scripts/tools/node_modules
# with Node 24: both provide bin/node). Node 24, Bun, Deno and tsc come from scripts/tools.
#
# Needs Redis at 127.0.0.1:6379 (or QTASKS_TEST_REDIS_URL), npm and tar. Prints one PASS, FAIL
# or SKIP line per check and a summary line; exits 1 when a check failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(bash "$root/scripts/tools.sh") || exit 1
# The PATH without scripts/tools, to find the machine's own node.
system_path=$(tr ':' '\n' <<<"$PATH" | grep -vxF "$bin" | paste -sd: -)
export PATH="$bin:$PATH"
export NO_COLOR=1
redis_url=${QTASKS_TEST_REDIS_URL:-redis://127.0.0.1:6379}
work=$(mktemp -d "${TMPDIR:-/tmp}/qtasks-smoke.XXXXXX")
fixtures="$root/scripts/smoke_npm"
passed=0
failed=0
skipped=0
workers=()

cleanup() {
  local pid
  for pid in "${workers[@]}"; do kill -9 "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

pass() { passed=$((passed + 1)); printf 'PASS  %-26s %s\n' "$1" "${2:-}"; }
skip() { skipped=$((skipped + 1)); printf 'SKIP  %-26s %s\n' "$1" "${2:-}"; }
fail() {
  failed=$((failed + 1))
  printf 'FAIL  %-26s %s\n' "$1" "${2:-}"
  if [ -n "${3:-}" ] && [ -f "$3" ]; then sed 's/^/      | /' "$3" | tail -n 40; fi
}

# Waits for process $1 (a child of this shell) to exit, at most $2 seconds, then kills it. Sets
# exit_code.
exit_code=0
wait_exit() {
  local pid=$1 limit=$2 watchdog
  (sleep "$limit" && kill -9 "$pid" 2>/dev/null) &
  watchdog=$!
  wait "$pid"
  exit_code=$?
  kill "$watchdog" 2>/dev/null
  wait "$watchdog" 2>/dev/null
}

# One round trip: a worker process and a producer process of scripts/smoke_npm on one runtime.
# $1 id (a word), $2 label, $3 directory holding tasks.mjs/worker.mjs/producer.mjs, $4 the
# runtime's name as getRuntime() reports it, then the command that runs a module (its path is
# appended).
round_trip() {
  local id=$1 label=$2 dir=$3 runtime=$4
  shift 4
  local app="npm-smoke-$id-$$-$RANDOM" log="$work/$id" worker rc_producer rc_worker
  (cd "$dir" && SMOKE_APP=$app SMOKE_REDIS_URL=$redis_url exec "$@" worker.mjs) \
    >"$log.worker.log" 2>&1 &
  worker=$!
  workers+=("$worker")
  (cd "$dir" && SMOKE_APP=$app SMOKE_REDIS_URL=$redis_url SMOKE_WORKER_RUNTIME=$runtime \
    timeout 60 "$@" producer.mjs) >"$log.producer.log" 2>&1
  rc_producer=$?
  kill -TERM "$worker" 2>/dev/null
  wait_exit "$worker" 15
  rc_worker=$exit_code
  local line
  line=$(grep -E '^(OK|MISMATCH)' "$log.producer.log" | tail -n 1)
  if [ "$rc_producer" -eq 0 ] && [ "$rc_worker" -eq 0 ]; then
    pass "$label" "${line:-}; worker exited 0 on SIGTERM"
  else
    cat "$log.worker.log" >>"$log.producer.log"
    fail "$label" "producer exit $rc_producer, worker exit $rc_worker${line:+: $line}" \
      "$log.producer.log"
  fi
}

# The Node 20 to test: the machine's when it is 20.x, else the pinned one from scripts/tools/node20.
node20() {
  local system major
  system=$(PATH=$system_path command -v node || true)
  if [ -n "$system" ]; then
    major=$("$system" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
    if [ "$major" = 20 ]; then
      echo "$system"
      return
    fi
  fi
  local dir="$root/scripts/tools/node20"
  if [ ! -x "$dir/node_modules/.bin/node" ]; then
    echo "smoke: the machine's node is ${system:-missing}${major:+ (v$major)}: installing Node 20" \
      "from the npm registry into scripts/tools/node20" >&2
    (cd "$dir" && npm install --no-package-lock --no-audit --no-fund --loglevel=error >&2) || return 1
  fi
  echo "$dir/node_modules/.bin/node"
}

# ---- 1. Build, publint, attw ------------------------------------------------------------------
started=$SECONDS
build_log="$work/build.log"
if "$bin/deno" run -A "$root/scripts/build_npm.ts" --check >"$build_log" 2>&1; then
  build_ok=1
else
  build_ok=0
fi
tarball=$(grep -oE '^built npm/[^:]+\.tgz' "$build_log" | sed 's/^built //')
if [ -z "$tarball" ]; then
  fail build "scripts/build_npm.ts failed" "$build_log"
  echo "npm smoke: $passed passed, $failed failed, $skipped skipped"
  exit 1
fi
tarball="$root/$tarball"
pass build "$(grep -E '^built ' "$build_log")"
for tool in publint attw; do
  section=$(sed -n "/^\$ $tool /,/^\$ /p" "$build_log")
  if grep -q "^$tool: FAILED" "$build_log"; then
    fail "$tool" "see below" "$build_log"
  elif [ -z "$section" ]; then
    fail "$tool" "did not run" "$build_log"
  else
    case $tool in
      publint) pass publint "$(grep -E 'All good|warning|suggestion' <<<"$section" | head -n 1)" ;;
      attw) pass attw "no problems (profile esm-only: CommonJS require is not supported)" ;;
    esac
  fi
done
[ "$build_ok" -eq 1 ] || echo "      (scripts/build_npm.ts --check exited non-zero)"

# Every public entry point (deno.json exports) documented: deno doc --lint, as JSR scores it.
doc_log="$work/doc_lint.log"
mapfile -t entries < <(cd "$root" && "$bin/deno" eval --no-config \
  'const e = JSON.parse(Deno.readTextFileSync("deno.json")).exports;
   for (const p of typeof e === "string" ? [e] : Object.values(e)) console.log(p);')
if (cd "$root" && "$bin/deno" doc --lint "${entries[@]}") >"$doc_log" 2>&1; then
  pass "deno doc --lint" "${#entries[@]} entry points: ${entries[*]}"
else
  fail "deno doc --lint" "$(grep -c '^error\[' "$doc_log") findings" "$doc_log"
fi

# ---- 1b. JSR: the publish dry run --------------------------------------------------------------
# No slow types, and nothing excluded by accident: every deno.json export, every module it
# imports (the files under src/) and README.md, LICENSE and deno.json are in the file list.
jsr_log="$work/jsr.log"
if (cd "$root" && "$bin/deno" publish --dry-run --allow-dirty) >"$jsr_log" 2>&1; then
  missing=()
  while IFS= read -r file; do
    grep -qF "file://$root/$file " "$jsr_log" || missing+=("$file")
  done < <(cd "$root" && {
    "$bin/deno" eval --no-config 'const e = JSON.parse(Deno.readTextFileSync("deno.json")).exports;
      for (const p of typeof e === "string" ? [e] : Object.values(e)) console.log(p.replace(/^\.\//, ""));'
    find src -type f | sort
    printf '%s\n' README.md LICENSE deno.json
  })
  # The two imports of the operator's own module (the CLI's app module, the pool thread's task
  # module) cannot be analyzed by design: those warnings are expected, any other fails.
  warnings=$(awk '
    /^[[:space:]]*(warning|error)/ {
      pending = $0; next_is_location = 1; next
    }
    next_is_location && /-->/ {
      next_is_location = 0
      if (pending ~ /unanalyzable-dynamic-import/ && ($0 ~ /\/cli\.ts:/ || $0 ~ /\/src\/engine\/executor\/pool_thread\.ts:/)) next
      count++; next
    }
    END { if (next_is_location) count++; print count + 0 }
  ' "$jsr_log")
  listed=$(grep -cF "file://$root/" "$jsr_log")
  if [ "${#missing[@]}" -gt 0 ]; then
    fail "jsr publish --dry-run" "not published: ${missing[*]} (deno.json publish.include)" "$jsr_log"
  elif [ "$warnings" -gt 0 ]; then
    fail "jsr publish --dry-run" "$warnings warning lines" "$jsr_log"
  else
    pass "jsr publish --dry-run" "$listed files, no slow types, nothing left out"
  fi
else
  fail "jsr publish --dry-run" "deno publish --dry-run failed" "$jsr_log"
fi

# ---- 2. Install the tarball into a scratch project ------------------------------------------
app_dir="$work/npm-app"
mkdir -p "$app_dir"
printf '{ "name": "qtasks-npm-smoke", "private": true, "type": "module" }\n' >"$app_dir/package.json"
for file in "$fixtures"/*.mjs; do
  sed -E 's#from "@qtasks/qtasks(/[a-z_]+)?"#from "qtasks\1"#' "$file" >"$app_dir/$(basename "$file")"
done
if grep -q 'from "@qtasks/qtasks' "$app_dir"/*.mjs; then
  fail "fixtures" "a copy in the npm project still imports @qtasks/qtasks"
fi
if (cd "$app_dir" && npm install --no-audit --no-fund --loglevel=error "$tarball") \
  >"$work/install.log" 2>&1; then
  pass "npm install" "$(basename "$tarball") + $(cd "$app_dir" && node -p \
    'Object.keys(require("./node_modules/qtasks/package.json").dependencies).join(", ")')"
else
  fail "npm install" "npm install of the tarball failed" "$work/install.log"
fi

# ---- 3. Round trips: Node 20, Node 24, Bun --------------------------------------------------
if node20_bin=$(node20); then
  case $node20_bin in
    "$root"/*) node20_from="pinned, scripts/tools/node20" ;;
    *) node20_from="the machine's, $node20_bin" ;;
  esac
  round_trip node20 "node20 ($("$node20_bin" --version))" "$app_dir" node "$node20_bin"
  echo "      (Node 20: $node20_from)"
else
  fail "node20" "no Node 20: the machine has none and the install failed"
fi
round_trip node24 "node24 ($("$bin/node" --version))" "$app_dir" node "$bin/node"
round_trip bun "bun ($("$bin/bun" --version))" "$app_dir" bun "$bin/bun"

# ---- 4. tsc against the installed .d.ts -----------------------------------------------------
# A Node consumer's setup: NodeNext resolution, strict, lib checks on, @types/node (pinned in
# scripts/tools, for AbortSignal and the like).
cat >"$app_dir/tsconfig.json" <<EOF
{
  "compilerOptions": {
    "target": "ES2022",
    "lib": ["ES2022"],
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "strict": true,
    "noEmit": true,
    "skipLibCheck": false,
    "types": ["node"],
    "typeRoots": ["$root/scripts/tools/node_modules/@types"]
  },
  "files": ["consumer.ts"]
}
EOF
printf '{ "extends": "./tsconfig.json", "files": ["wrong.ts"] }\n' >"$app_dir/tsconfig.wrong.json"
cat >"$app_dir/consumer.ts" <<'EOF'
import { QueueTasks, type TaskContext, TaskFailedError, type TaskRecord } from "qtasks";

const app = new QueueTasks({ name: "consumer", brokerUrl: "redis://127.0.0.1:6379" });
export const add = app.task("add", (a: number, b: number) => a + b);
export const greet = app.task(
  { name: "greet", echo: true, maxTime: 1_000 },
  async (ctx: TaskContext, who: string) => ({ who, attempt: ctx.attempt }),
);

export async function produce(): Promise<number> {
  const sum: number = await (await add.addTask(1, 2)).value();
  const greeting: { who: string; attempt: number } = await (await greet.addTask("ada")).value();
  const record: TaskRecord = await (await add.addTask(3, 4)).result({ timeoutMs: 1_000 });
  return sum + greeting.attempt + record.priority;
}

export const isFailure = (error: unknown): boolean => error instanceof TaskFailedError;
EOF
cat >"$app_dir/wrong.ts" <<'EOF'
import { QueueTasks } from "qtasks";

const app = new QueueTasks({ name: "wrong" });
const add = app.task("add", (a: number, b: number) => a + b);
export const job = add.addTask("2", 3);
EOF
tsc_version=$("$bin/tsc" --version)
if (cd "$app_dir" && "$bin/tsc" -p tsconfig.json) >"$work/tsc.log" 2>&1; then
  pass "tsc consumer.ts" "$tsc_version: compiles"
else
  fail "tsc consumer.ts" "$tsc_version: errors" "$work/tsc.log"
fi
(cd "$app_dir" && "$bin/tsc" -p tsconfig.wrong.json) >"$work/tsc-wrong.log" 2>&1
rc=$?
errors=$(grep -cE 'error TS[0-9]+' "$work/tsc-wrong.log")
if [ "$rc" -ne 0 ] && [ "$errors" -eq 1 ] &&
  grep -qE '^wrong\.ts\(5,[0-9]+\): error TS2345: .*string.*number' "$work/tsc-wrong.log"; then
  pass "tsc wrong.ts fails" "exit $rc: $(grep -oE 'error TS2345: .*' "$work/tsc-wrong.log" | cut -c1-70)"
else
  fail "tsc wrong.ts fails" "wanted exit != 0 and one TS2345 at wrong.ts(5,…); got exit $rc" \
    "$work/tsc-wrong.log"
fi

# ---- 5. Deno: jsr:@qtasks/qtasks linked to this repository -----------------------------------
deno_dir="$work/deno-app"
mkdir -p "$deno_dir"
version=$(cd "$root" && "$bin/deno" eval --no-config \
  'console.log(JSON.parse(Deno.readTextFileSync("deno.json")).version)')
cat >"$deno_dir/deno.json" <<EOF
{
  "imports": { "@qtasks/qtasks": "jsr:@qtasks/qtasks@^$version" },
  "links": ["$root"]
}
EOF
cp "$fixtures"/*.mjs "$deno_dir/"
round_trip deno "deno ($("$bin/deno" --version | head -n 1 | cut -d' ' -f2), jsr link)" "$deno_dir" \
  deno "$bin/deno" run -A

# ---- 6. The worker pool and the bin, from the installed package -----------------------------
# Calls "$1 LABEL RUNNER" for Node 20 (when there is one), Node 24 and Bun.
each_npm_runtime() {
  local label runner
  for label in node20 node24 bun; do
    case $label in
      node20) runner=${node20_bin:-} ;;
      node24) runner="$bin/node" ;;
      bun) runner="$bin/bun" ;;
    esac
    [ -n "$runner" ] && "$1" "$label" "$runner"
  done
  return 0
}
# The Web Worker pool from the npm build (pool.mjs: 4 tasks on 2 threads, each must say it ran in
# a thread).
pool_on() {
  local label=$1 runner=$2 out code
  out=$(cd "$app_dir" && timeout 60 "$runner" pool.mjs 2>&1) && code=0 || code=$?
  if [ "$code" -eq 0 ] && grep -q "^OK pool:" <<<"$out"; then
    pass "worker pool ($label)" "$(grep "^OK pool:" <<<"$out" | cut -c1-90)"
  else
    fail "worker pool ($label)" "pool.mjs exited $code: $(tail -n 3 <<<"$out")"
  fi
}
check_worker_pool() { each_npm_runtime pool_on; }
# The CLI's bin: `npx qtasks --help` in $app_dir. Built only when deno.json exports "./cli" (then
# package.json has bin.qtasks and its file a node shebang).
check_cli_bin() {
  if ! grep -q '"bin"' "$app_dir/node_modules/qtasks/package.json" 2>/dev/null; then
    skip "cli bin (npx qtasks)" "the package has no bin: deno.json exports no \"./cli\""
    return
  fi
  each_npm_runtime bin_on
}
# The bin runs the command line (exit 0 and its usage), and a usage error exits 2 with one line.
bin_on() {
  local label=$1 runner=$2 out code
  out=$(cd "$app_dir" && "$runner" node_modules/.bin/qtasks --help 2>&1) && code=0 || code=$?
  if [ "$code" -ne 0 ] || ! grep -q "^Usage: qtasks <command>" <<<"$out"; then
    fail "cli bin ($label)" "qtasks --help exited $code: $(head -n 3 <<<"$out")"
    return
  fi
  out=$(cd "$app_dir" && "$runner" node_modules/.bin/qtasks frobnicate 2>&1) && code=0 || code=$?
  if [ "$code" -ne 2 ]; then
    fail "cli bin ($label)" "qtasks frobnicate exited $code (expected 2): $out"
    return
  fi
  pass "cli bin ($label)" "qtasks --help exits 0 with its usage; an unknown command exits 2: $out"
}
check_worker_pool
check_cli_bin

echo "npm smoke: $passed passed, $failed failed, $skipped skipped ($((SECONDS - started)) s)"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Runs the whole test suite on Deno, Bun and Node (the same test files on each), after installing
# the pinned runtimes from the npm registry (scripts/tools.sh). Needs Redis at 127.0.0.1:6379
# (or QTASKS_TEST_REDIS_URL). Pass a runtime name to run only that one: deno, bun or node.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(bash "$root/scripts/tools.sh")
cd "$root"
only=${1:-all}
mapfile -t files < <(find tests -name '*_test.ts' | sort)
status=0
run() {
  local name=$1; shift
  echo "== $name: $*"
  if "$@"; then echo "== $name: passed"; else echo "== $name: FAILED"; status=1; fi
}
if [ "$only" = all ] || [ "$only" = deno ]; then
  run deno "$bin/deno" test -A --quiet "${files[@]}"
fi
if [ "$only" = all ] || [ "$only" = bun ]; then
  run bun "$bin/bun" test --timeout 60000 "${files[@]/#/./}"
fi
if [ "$only" = all ] || [ "$only" = node ]; then
  # Node 24 (npm package "node") strips the TypeScript types itself.
  run node "$bin/node" --test --test-concurrency=1 "${files[@]}"
fi
exit $status

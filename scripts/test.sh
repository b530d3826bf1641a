#!/usr/bin/env bash
# Runs the whole test suite on Deno, Bun and Node (the same test files on each), after installing
# the pinned runtimes from the npm registry (scripts/tools.sh). Needs Redis at 127.0.0.1:6379
# (or QTASKS_TEST_REDIS_URL), PostgreSQL at 127.0.0.1:5432 (or QTASKS_TEST_POSTGRES_URL), and
# redis-server on the PATH and the PostgreSQL server binaries (/usr/lib/postgresql/<n>/bin, or
# PG_BIN) for the fault suite (faults: the delivery scenarios on Redis, scripts/faults.ts
# --short, and the failover ones on a local Redis Cluster and Sentinel, scripts/faults_cluster.ts
# --seconds 6). Pass one name to run
# only that part: imports (the import cycle and layer check), deno, bun, node, faults, faults-pg
# (the fault suite on PostgreSQL, scripts/faults.ts --postgres --short, each scenario on a private
# server: initdb + pg_ctl, as the postgres OS user with runuser when root; run on Deno, Bun and
# Node, the workers and producer on each; faults-pg-deno, faults-pg-bun or faults-pg-node: on one), npm (the
# npm package smoke test, scripts/smoke_npm.sh), web (the dashboard in headless Chromium,
# tests/web/browser_e2e.ts, run once under Node: it drives a browser; needs /usr/bin/chromium,
# which .ci/run installs) or cluster (the Redis contract suites on a local
# Redis Cluster of 3 primaries and 3 replicas and through Sentinel, on the three runtimes, and
# with one app over 3 partitions on the cluster: it starts those servers itself,
# scripts/redis_topology.ts, and stops them; QTASKS_TOPOLOGY_PORT_BASE moves their ports). `--quick` (or `quick`) is a first run: the import
# check and the Deno tests and doc tests only (one runtime, no fault suite, no npm smoke test).
# After the tests it checks that they left no new key in the test database (keys: …).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(bash "$root/scripts/tools.sh") || exit 1
cd "$root"
export NO_COLOR=1
only=${1:-all}
if [ "$only" = --quick ]; then only=quick; fi
case "$only" in
  all | quick | imports | deno | bun | node | faults | faults-pg | faults-pg-deno | faults-pg-bun | \
    faults-pg-node | web | npm | cluster) ;;
  *) echo "usage: bash scripts/test.sh [--quick|imports|deno|bun|node|faults|faults-pg[-deno|-bun|-node]|web|npm|cluster]" >&2; exit 2 ;;
esac
# The tests run on a database of their own (15 unless QTASKS_TEST_REDIS_URL says otherwise), so
# that the key check below sees only what they leave; the doc tests use the URLs written in the
# docs (database 0), as a reader would.
export QTASKS_TEST_REDIS_URL=${QTASKS_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
redis_url=$QTASKS_TEST_REDIS_URL
# The PostgreSQL tests make a schema of their own (qt_…) in this database and drop it.
export QTASKS_TEST_POSTGRES_URL=${QTASKS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
pg_url=$QTASKS_TEST_POSTGRES_URL
started=$(date +%s)
mapfile -t files < <(find tests -name '*_test.ts' | sort)
logs=$(mktemp -d)
status=0
# The keys of the test database now: after the tests, any new one is a leak.
keycheck=no
schemacheck=no
case "$only" in all | quick | deno | bun | node | web)
  if "$bin/deno" run -A scripts/redis_keys_left.ts snapshot "$logs/keys.json" "$redis_url"; then
    keycheck=yes
  else
    # No snapshot, no key check: say so and count it, rather than skip it unseen.
    echo "== keys: the snapshot of $redis_url failed"; keycheck=failed
  fi
  if "$bin/deno" run -A scripts/postgres_schemas_left.ts snapshot "$logs/schemas.json" "$pg_url"; then
    schemacheck=yes
  else
    echo "== schemas: the snapshot of $pg_url failed"; schemacheck=failed
  fi ;;
esac
passed=0
failed=0
count() { # $1 log, $2 pass regex, $3 fail regex (each captures the number)
  local p f
  p=$(grep -oE "$2" "$1" | grep -oE '[0-9]+' | tail -n 1)
  f=$(grep -oE "$3" "$1" | grep -oE '[0-9]+' | tail -n 1)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  echo "== $4: ${p:-0} passed, ${f:-0} failed"
}
run() {
  local name=$1; shift
  echo "== $name: $*"
  if "$@" 2>&1 | tee "$logs/$name.log"; then :; else status=1; echo "== $name: FAILED"; fi
}
if [ "$only" = all ] || [ "$only" = quick ] || [ "$only" = imports ]; then
  # No import cycle and no import against the layer rule (docs/architecture.md#layers).
  run imports "$bin/deno" run -A scripts/check_imports.ts
  if grep -qE '^imports: .* 0 cycles, 0 layer violations' "$logs/imports.log"; then
    passed=$((passed + 1)); echo "== imports: 1 passed, 0 failed"
  else
    failed=$((failed + 1)); echo "== imports: 0 passed, 1 failed"
  fi
fi
if [ "$only" = all ] || [ "$only" = quick ] || [ "$only" = deno ]; then
  run deno "$bin/deno" test -A "${files[@]}"
  count "$logs/deno.log" '[0-9]+ passed' '[0-9]+ failed' deno
  # Every JSDoc @example and every ts block of README.md and docs/*.md, run as a test.
  run deno-doc "$bin/deno" test -A --doc --quiet mod.ts cli.ts src/ README.md docs/
  count "$logs/deno-doc.log" '[0-9]+ passed' '[0-9]+ failed' deno-doc
fi
if [ "$only" = all ] || [ "$only" = bun ]; then
  run bun "$bin/bun" test --timeout 60000 "${files[@]/#/./}"
  count "$logs/bun.log" '^ *[0-9]+ pass' '^ *[0-9]+ fail' bun
fi
if [ "$only" = all ] || [ "$only" = node ]; then
  # Node 24 (npm package "node") strips the TypeScript types itself.
  run node "$bin/node" --test --test-concurrency=1 "${files[@]}"
  count "$logs/node.log" 'ℹ pass [0-9]+' 'ℹ fail [0-9]+' node
fi
if [ "$only" = all ] || [ "$only" = web ]; then
  # The dashboard in a real headless Chromium (Debian's chromium, driven by playwright-core).
  run web "$bin/node" --test --test-concurrency=1 tests/web/browser_e2e.ts
  count "$logs/web.log" 'ℹ pass [0-9]+' 'ℹ fail [0-9]+' web
fi
if [ "$only" = all ] || [ "$only" = faults ]; then
  # The delivery-guarantees fault suite, short form: real worker processes, private redis-servers.
  run faults "$bin/deno" run -A scripts/faults.ts --short
  p=$(grep -cE '\| PASS +\|' "$logs/faults.log")
  f=$(grep -cE '\| FAIL +\|' "$logs/faults.log")
  passed=$((passed + p))
  failed=$((failed + f))
  echo "== faults: $p passed, $f failed (scenarios)"
  # The failover scenarios (issue 21): kill -9 of a primary with durable enqueue off and on, on a
  # local cluster and through Sentinel, and a reshard under load; each starts its own servers.
  # The script exits 1 when a durable scenario lost a task or a scenario failed.
  before=$status; status=0
  run faults-cluster "$bin/deno" run -A scripts/faults_cluster.ts --seconds 6
  cluster_rc=$status; [ "$before" -eq 0 ] || status=$before
  p=$(grep -E '^\| [0-9]+ \|' "$logs/faults-cluster.log" | grep -vc FAILED)
  f=$(grep -E '^\| [0-9]+ \|' "$logs/faults-cluster.log" | grep -c FAILED)
  if [ "$cluster_rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p))
  failed=$((failed + f))
  echo "== faults-cluster: $p passed, $f failed (scenarios)"
fi
# The same faults on PostgreSQL, each scenario on a private server (initdb + pg_ctl in a
# temporary directory, never the shared one on 5432; QTASKS_FAULTS_PG_PORTS=first-last keeps
# its ports in a range), once per runtime: the runner's runtime is the one under test (its worker
# processes and its producer run on it). The script exits 1 when a task is lost or a scenario
# failed. About 60 to 95 s per runtime on 2 cores.
for runtime in deno bun node; do
  case "$only" in all | faults-pg | "faults-pg-$runtime") ;; *) continue ;; esac
  case "$runtime" in
    deno) runner=("$bin/deno" run -A) ;;
    *) runner=("$bin/$runtime") ;;
  esac
  before=$status; status=0
  run "faults-pg-$runtime" "${runner[@]}" scripts/faults.ts --short --postgres
  pg_rc=$status; [ "$before" -eq 0 ] || status=$before
  p=$(grep -cE '\| PASS +\|' "$logs/faults-pg-$runtime.log")
  f=$(grep -cE '\| FAIL +\|' "$logs/faults-pg-$runtime.log")
  # No table (the runner itself failed) still counts as a failure.
  if [ "$pg_rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p))
  failed=$((failed + f))
  echo "== faults-pg-$runtime: $p passed, $f failed (scenarios)"
done
if [ "$only" = all ] || [ "$only" = cluster ]; then
  # The Redis contract suites against a local cluster and a Sentinel setup, started here (daemonized
  # redis-servers on free ports from 7100, or QTASKS_TOPOLOGY_PORT_BASE) and always stopped afterwards.
  cluster_files=(tests/contract/redis_broker_test.ts tests/contract/operations_redis_test.ts
    tests/contract/stats_redis_test.ts tests/contract/flow_control_redis_test.ts
    tests/contract/deduplication_redis_test.ts
    tests/redis/topology_url_test.ts)
  if "$bin/deno" run -A scripts/redis_topology.ts up "$logs/topology.json" >"$logs/topology.txt" 2>&1; then
    cat "$logs/topology.txt"
    while read -r kind topology_url; do
      export QTASKS_TEST_REDIS_URL=$topology_url
      run "$kind-deno" "$bin/deno" test -A "${cluster_files[@]}"
      count "$logs/$kind-deno.log" '[0-9]+ passed' '[0-9]+ failed' "$kind-deno"
      run "$kind-bun" "$bin/bun" test --timeout 60000 "${cluster_files[@]/#/./}"
      count "$logs/$kind-bun.log" '^ *[0-9]+ pass' '^ *[0-9]+ fail' "$kind-bun"
      run "$kind-node" "$bin/node" --test --test-concurrency=1 "${cluster_files[@]}"
      count "$logs/$kind-node.log" 'ℹ pass [0-9]+' 'ℹ fail [0-9]+' "$kind-node"
      if [ "$kind" = cluster ]; then
        # One app over 3 partitions (3 slots, spread over the primaries): the broker and
        # operations contracts, the deduplication contract and the partition tests, on Deno.
        export QTASKS_TEST_REDIS_URL="$topology_url?partitions=3"
        run "$kind-partitions-deno" "$bin/deno" test -A tests/contract/redis_broker_test.ts \
          tests/contract/operations_redis_test.ts tests/contract/deduplication_redis_test.ts \
          tests/redis/partitions_test.ts
        count "$logs/$kind-partitions-deno.log" '[0-9]+ passed' '[0-9]+ failed' "$kind-partitions-deno"
      fi
    done <"$logs/topology.txt"
    export QTASKS_TEST_REDIS_URL=$redis_url
    "$bin/deno" run -A scripts/redis_topology.ts down "$logs/topology.json"
  else
    cat "$logs/topology.txt"; status=1; failed=$((failed + 1)); echo "== cluster: the servers did not start"
  fi
fi
if [ "$only" = all ] || [ "$only" = npm ]; then
  # Builds the npm package, installs the tarball in a scratch project and runs it on Node 20,
  # Node 24, Bun and Deno; tsc type-checks a consumer.
  run npm bash scripts/smoke_npm.sh
  count "$logs/npm.log" '[0-9]+ passed' '[0-9]+ failed' npm
fi
if [ "$keycheck" = yes ]; then
  # Every test cleans up after itself: no key is left in the test database.
  run keys "$bin/deno" run -A scripts/redis_keys_left.ts compare "$logs/keys.json" "$redis_url"
  if grep -qE '^keys: 0 new keys' "$logs/keys.log"; then
    passed=$((passed + 1)); echo "== keys: 1 passed, 0 failed"
  else
    failed=$((failed + 1)); echo "== keys: 0 passed, 1 failed"
  fi
elif [ "$keycheck" = failed ]; then
  failed=$((failed + 1)); echo "== keys: 0 passed, 1 failed (no snapshot)"
fi
if [ "$schemacheck" = yes ]; then
  # Every PostgreSQL test drops the schema it made.
  run schemas "$bin/deno" run -A scripts/postgres_schemas_left.ts compare "$logs/schemas.json" "$pg_url"
  if grep -qE '^schemas: 0 new schemas' "$logs/schemas.log"; then
    passed=$((passed + 1)); echo "== schemas: 1 passed, 0 failed"
  else
    failed=$((failed + 1)); echo "== schemas: 0 passed, 1 failed"
  fi
elif [ "$schemacheck" = failed ]; then
  failed=$((failed + 1)); echo "== schemas: 0 passed, 1 failed (no snapshot)"
fi
rm -rf "$logs"
echo "time: $(( $(date +%s) - started )) s"
[ "$failed" -eq 0 ] || status=1
echo "total: $passed passed, $failed failed"
exit $status

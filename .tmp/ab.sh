export PATH=/work/wt_pg-perf/scripts/tools/node_modules/.bin:$PATH
for r in 1 2 3; do
  for t in /work/main /work/wt_pg-perf; do
    echo "== $t round $r"
    (cd $t && deno run -A scripts/bench_postgres.ts --n 1000 --latency-n 100 --only qtasks 2>&1 | tail -1)
  done
done

#!/usr/bin/env bash
# Runs examples/quickstart.ts with the pinned Deno (installed from the npm registry on first use).
# In memory by default; on Redis when QTASKS_REDIS_URL is set.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(bash "$root/scripts/tools.sh")
cd "$root"
exec "$bin/deno" run -A examples/quickstart.ts "$@"

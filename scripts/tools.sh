#!/usr/bin/env bash
# Installs the pinned Deno, Bun and Node (from the npm registry) into
# scripts/tools/node_modules and the project's npm dependencies (from deno.json)
# into node_modules. Prints the PATH entry to use. Idempotent and quiet.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/scripts/tools"
if [ ! -x "$tools/node_modules/.bin/deno" ] || [ ! -x "$tools/node_modules/.bin/bun" ] || [ ! -x "$tools/node_modules/.bin/node" ]; then
  echo "tools: installing deno, bun and node from the npm registry" >&2
  (cd "$tools" && npm install --no-package-lock --no-audit --no-fund --loglevel=error >&2)
fi
export PATH="$tools/node_modules/.bin:$PATH"
if [ ! -e "$root/node_modules/redis" ] || [ "$root/deno.json" -nt "$root/node_modules/.deno" ]; then
  echo "tools: installing npm dependencies from deno.json" >&2
  (cd "$root" && deno install --quiet >&2)
fi
echo "$tools/node_modules/.bin"

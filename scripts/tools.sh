#!/usr/bin/env bash
# Installs the pinned Deno, Bun and Node, the packaging tools (tsc, publint,
# attw, @types/node) and playwright-core (the dashboard's browser test; all from
# the npm registry) into scripts/tools/node_modules, and the project's npm
# dependencies (from deno.json) into node_modules. Prints the PATH entry to use.
# Idempotent and quiet.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/scripts/tools"
missing=0
for tool in deno bun node tsc publint attw; do
  [ -x "$tools/node_modules/.bin/$tool" ] || missing=1
done
[ -d "$tools/node_modules/@types/node" ] || missing=1
[ -d "$tools/node_modules/playwright-core" ] || missing=1
if [ "$missing" -eq 1 ]; then
  echo "tools: installing deno, bun, node and the packaging tools from the npm registry" >&2
  (cd "$tools" && npm install --no-package-lock --no-audit --no-fund --loglevel=error >&2)
fi
export PATH="$tools/node_modules/.bin:$PATH"
if [ ! -e "$root/node_modules/redis" ] || [ "$root/deno.json" -nt "$root/node_modules/.deno" ]; then
  echo "tools: installing npm dependencies from deno.json" >&2
  (cd "$root" && deno install --quiet >&2)
fi
echo "$tools/node_modules/.bin"

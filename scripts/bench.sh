#!/usr/bin/env bash
# `npm run bench --prefix scripts`: every bench/*.ts on Deno, Bun and Node
# (Node runs the npm build). Each prints its own table of ratios measured
# against the runtime's own API in the same run. Timings live here, never
# in tests.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=scripts/node_modules/.bin
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
node scripts/build_npm.mjs >/dev/null || exit 1
only=${1:-}
for b in bench/*.ts; do
  name=$(basename "$b" .ts)
  case "$name" in _*) continue ;; esac
  if [ -n "$only" ] && [ "$name" != "$only" ]; then continue; fi
  echo "== $name"
  "$bin/deno" run -A "$b"
  "$bin/bun" "$b"
  node "npm/esm/bench/$name.js"
done

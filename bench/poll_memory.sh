#!/usr/bin/env bash
# bench/poll_memory.ts on Deno, Bun and Node (the npm build), with the fd
# limit raised first: 10,000 server conns in one process, 10,000 client conns
# in another. Extra arguments go to the benchmark (e.g. --conns=2000).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=scripts/node_modules/.bin
ulimit -n "$(ulimit -Hn)"
node scripts/build_npm.mjs >/dev/null
"$bin/deno" run -A bench/poll_memory.ts "$@"
"$bin/bun" bench/poll_memory.ts "$@"
node npm/esm/bench/poll_memory.js "$@"

#!/usr/bin/env bash
# `npm start --prefix scripts`: the README demos, on Deno, Bun and Node.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=scripts/node_modules/.bin
node scripts/build_npm.mjs >/dev/null
for demo in scripts/demo*.ts; do
  name=$(basename "$demo" .ts)
  echo "== $name"
  "$bin/deno" run -A "$demo"
  "$bin/bun" "$demo"
  node "npm/esm/scripts/$name.js"
done

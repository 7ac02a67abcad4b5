#!/usr/bin/env bash
# The whole check: `npm test --prefix scripts` (after `npm ci --prefix scripts`).
# Static gates (fmt, lint, type check, doc lint, publish dry run), then the one
# test suite on Deno, Bun and Node (the npm build). Ends with one plain line
# `N passed, N failed` summing all three runtimes (a failed gate counts as one
# failure), and exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
bin="$root/scripts/node_modules/.bin"
export NO_COLOR=1
log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT

# Many idle conns in some tests and benchmarks: raise the fd limit as far as allowed.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

passed=0
failed=0
gate_failures=0

gate() { # name, command...
  local name=$1
  shift
  if "$@" >"$log_dir/gate.log" 2>&1; then
    echo "ok    $name"
  else
    echo "FAIL  $name"
    tail -n 40 "$log_dir/gate.log" | sed 's/^/      /'
    gate_failures=$((gate_failures + 1))
  fi
}

entries=$(node -e 'const d=require("./deno.json");console.log(Object.values(d.exports).join(" "))')
test_files=$(ls tests/*_test.ts)

echo "== static checks"
gate "deno fmt --check" "$bin/deno" fmt --check
gate "deno lint" "$bin/deno" lint
gate "deno check" "$bin/deno" check mod.ts $entries tests/ bench/ scripts/
# shellcheck disable=SC2086
gate "deno doc --lint" "$bin/deno" doc --lint $entries
gate "deno publish --dry-run" "$bin/deno" publish --dry-run --allow-dirty

count() { # runtime, passed, failed
  printf '%-5s %5d passed, %d failed\n' "$1" "$2" "$3"
  passed=$((passed + $2))
  failed=$((failed + $3))
}

echo "== deno test"
"$bin/deno" test -A --doc tests/ src/ mod.ts 2>&1 | tee "$log_dir/deno.log" | grep -E '(FAILED|ERRORS|^error|=>)' | head -n 40
deno_line=$(grep -E '[0-9]+ passed.*[0-9]+ failed' "$log_dir/deno.log" | tail -n 1)
d_pass=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$deno_line")
d_fail=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$deno_line")
if [ -z "$deno_line" ]; then d_pass=0; d_fail=1; tail -n 30 "$log_dir/deno.log"; fi

echo "== bun test"
# shellcheck disable=SC2046
"$bin/bun" test --timeout 60000 $(printf './%s ' $test_files) 2>&1 | tee "$log_dir/bun.log" | grep -E '^\(fail\)|error:' | head -n 40
b_pass=$(grep -E '^ *[0-9]+ pass$' "$log_dir/bun.log" | tail -n 1 | tr -dc 0-9)
b_fail=$(grep -E '^ *[0-9]+ fail$' "$log_dir/bun.log" | tail -n 1 | tr -dc 0-9)
if [ -z "$b_pass" ]; then b_pass=0; b_fail=1; tail -n 30 "$log_dir/bun.log"; fi

echo "== npm build + node --test"
n_pass=0
n_fail=1
if node scripts/build_npm.mjs >"$log_dir/build.log" 2>&1; then
  (cd npm/esm && node --test tests/) >"$log_dir/node.log" 2>&1
  grep -E '^not ok' -A 20 "$log_dir/node.log" | head -n 60
  n_pass=$(grep -E '^# pass ' "$log_dir/node.log" | tail -n 1 | tr -dc 0-9)
  n_fail=$(grep -E '^# fail ' "$log_dir/node.log" | tail -n 1 | tr -dc 0-9)
  if [ -z "$n_pass" ]; then n_pass=0; n_fail=1; tail -n 30 "$log_dir/node.log"; fi
else
  echo "FAIL  npm build"
  tail -n 40 "$log_dir/build.log"
fi

echo "== summary"
count deno "$d_pass" "$d_fail"
count bun "$b_pass" "$b_fail"
count node "$n_pass" "$n_fail"
if [ "$gate_failures" -gt 0 ]; then
  echo "gates $gate_failures failed"
  failed=$((failed + gate_failures))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

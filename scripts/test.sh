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
# NETKIT_KEEP_LOGS=1 keeps the runtimes' full logs (failure details) and says where.
if [ -n "${NETKIT_KEEP_LOGS:-}" ]; then
  trap 'echo "logs kept in $log_dir"' EXIT
else
  trap 'rm -rf "$log_dir"' EXIT
fi

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
# deno.json lint.plugins runs netkit's own rules (lint/netkit_plugin.ts) too.
gate "deno lint" "$bin/deno" lint
gate "deno check" "$bin/deno" check mod.ts $entries tests/ bench/ scripts/ lint/
# shellcheck disable=SC2086
gate "deno doc --lint" "$bin/deno" doc --lint $entries
gate "deno publish --dry-run" "$bin/deno" publish --dry-run --allow-dirty

count() { # runtime, passed, failed
  printf '%-5s %5d passed, %d failed\n' "$1" "$2" "$3"
  passed=$((passed + $2))
  failed=$((failed + $3))
}

# Progress while the suites run: one line per test file (Deno's doc examples
# together), failures as they happen; then the skipped tests with their reasons.
progress() { # runtime: reads the runtime's output, prints a line per file
  awk -v rt="$1" '
    function show() {
      if (file != "") printf "%-5s %-44s %4d passed, %d failed, %d skipped\n", rt, file, p, f, s
      p = f = s = 0
      fflush()
    }
    function start(name) {
      if (name ~ /#[0-9]+-[0-9]+\.[a-z]+$/) name = "doc examples (--doc)"
      if (name != file) { show(); file = name }
    }
    rt == "deno" && /^running [0-9]+ tests? from / { if ($2 > 0) start($NF); next }
    rt == "bun" && /^(\.\/)?(tests|src)\/.*\.ts:$/ { start(substr($0, 1, length($0) - 1)); next }
    rt == "deno" && / \.\.\. ok/ { p++; next }
    rt == "deno" && / \.\.\. ignored/ { s++; next }
    rt == "deno" && / \.\.\. FAILED/ { f++; print "      FAILED " $0; fflush(); next }
    rt == "bun" && /^ *[0-9]+ tests? (skipped|failed|todo)/ { show(); file = ""; done = 1 }
    done { next }
    rt == "bun" && /^\(pass\)/ { p++; next }
    rt == "bun" && /^\(skip\)/ { s++; next }
    rt == "bun" && /^\(fail\)/ { f++; print "      " $0; fflush(); next }
    rt == "bun" && /^error:/ && shown++ < 40 { print "      " $0; fflush() }
    END { show() }
  '
}

skipped() { # runtime, log, pattern: counts the skipped tests by reason (their names say why)
  local list
  list=$(grep -E "$3" "$2" | sed -E 's/^\(skip\) //; s/ \.\.\. ignored.*$//; s/ \[[0-9.]+m?s\]$//; s/^ok [0-9]+ - //' | sort -u)
  if [ -n "$list" ]; then
    echo "$1 skipped $(wc -l <<<"$list" | tr -d ' '):"
    sed -E 's/.*\(skipped: (.*)\)$/\1/; s/.* # SKIP (.*)$/\1/' <<<"$list" | sort | uniq -c | sort -rn |
      sed -E 's/^ *([0-9]+) /      \1  /'
  fi
}

echo "== deno test"
"$bin/deno" test -A --doc tests/ src/ mod.ts 2>&1 | tee "$log_dir/deno.log" | progress deno
grep -E '(ERRORS|^error|=>)' "$log_dir/deno.log" | head -n 40
deno_line=$(grep -E '[0-9]+ passed.*[0-9]+ failed' "$log_dir/deno.log" | tail -n 1)
d_pass=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$deno_line")
d_fail=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$deno_line")
if [ -z "$deno_line" ]; then d_pass=0; d_fail=1; tail -n 30 "$log_dir/deno.log"; fi

echo "== bun test"
# shellcheck disable=SC2046
"$bin/bun" test --timeout 60000 $(printf './%s ' $test_files) 2>&1 | tee "$log_dir/bun.log" | progress bun
b_pass=$(grep -E '^ *[0-9]+ pass$' "$log_dir/bun.log" | tail -n 1 | tr -dc 0-9)
b_fail=$(grep -E '^ *[0-9]+ fail$' "$log_dir/bun.log" | tail -n 1 | tr -dc 0-9)
if [ -z "$b_pass" ]; then b_pass=0; b_fail=1; tail -n 30 "$log_dir/bun.log"; fi

echo "== npm build + node --test"
n_pass=0
n_fail=1
if node scripts/build_npm.mjs >"$log_dir/build.log" 2>&1; then
  # One file at a time (what node --test does on two cores), for a line per file.
  n_fail=0
  : >"$log_dir/node.log"
  for f in $test_files; do
    js="tests/$(basename "$f" .ts).js"
    # Bounded: a child left holding the output pipes would keep node --test waiting.
    (cd npm/esm && timeout -k 10 900 node --test --test-reporter=tap "$js") >"$log_dir/node_file.log" 2>&1
    cat "$log_dir/node_file.log" >>"$log_dir/node.log"
    fp=$(grep -E '^# pass ' "$log_dir/node_file.log" | tail -n 1 | tr -dc 0-9)
    ff=$(grep -E '^# fail ' "$log_dir/node_file.log" | tail -n 1 | tr -dc 0-9)
    fs=$(grep -E '^# skipped ' "$log_dir/node_file.log" | tail -n 1 | tr -dc 0-9)
    if [ -z "$fp" ]; then fp=0; ff=1; tail -n 30 "$log_dir/node_file.log"; fi
    printf '%-5s %-44s %4d passed, %d failed, %d skipped\n' node "$js" "$fp" "$ff" "${fs:-0}"
    grep -E '^not ok' -A 20 "$log_dir/node_file.log" | head -n 60
    n_pass=$((n_pass + fp))
    n_fail=$((n_fail + ff))
  done
else
  echo "FAIL  npm build"
  tail -n 40 "$log_dir/build.log"
fi

echo "== skipped"
skipped deno "$log_dir/deno.log" ' \.\.\. ignored'
skipped bun "$log_dir/bun.log" '^\(skip\) '
skipped node "$log_dir/node.log" '^ok [0-9]+ - .* # SKIP'

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

#!/bin/sh
# A process per test (cargo-nextest, one test at a time): what a passing
# test whose task a rule hides costs, by the rule's kind, side by side in
# one run (docs/benchmarks.md, issue 23). Each row: the tests' times as
# nextest reports them (median, min, max of 10 per round).
#
#   benches/rule_judged.sh [rounds]      # default 3
#
# Rows: `untracked` (#[tokio::test]), `file:line` (the rule names the spawn
# site), `function` (the rule names the spawning function: names looked up,
# shared between processes through target/taskleak/symbols/), and
# `function, no cache` (TASKLEAK_SYMBOL_CACHE=off: every process loads
# debug info, as before issue 23). The shared cache is emptied first: the
# first `function` test of round 1 fills it.
set -eu
rounds=${1:-3}
target=${CARGO_TARGET_DIR:-target}
cargo nextest run --bench rule_judged --no-tests=pass -E 'none()' >/dev/null 2>&1
rm -rf "$target/taskleak/symbols"

per_test() { # module, then env assignments
    module=$1
    shift
    env "$@" cargo nextest run --bench rule_judged --test-threads 1 --no-fail-fast \
        -E "test(/^$module::/)" 2>&1 |
        sed -n 's/.*PASS \[ *\([0-9.]*\)s.*/\1/p' | sort -n |
        awk '{ t[NR] = $1 } END { printf "median %.3f s  min %.3f  max %.3f  (%d tests)\n", t[int((NR + 1) / 2)], t[1], t[NR], NR }'
}

for round in $(seq "$rounds"); do
    echo "round $round"
    printf '  %-20s %s\n' "untracked" "$(per_test untracked)"
    printf '  %-20s %s\n' "file:line" "$(per_test by_file_line)"
    printf '  %-20s %s\n' "function" "$(per_test by_function)"
    printf '  %-20s %s\n' "function, no cache" "$(per_test by_function TASKLEAK_SYMBOL_CACHE=off)"
done

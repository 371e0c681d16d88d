#!/bin/sh
# What a failing test's report costs beyond the grace, in a debug test
# binary of a real project (docs/benchmarks.md, issue 23): runs one
# leaking test of each given binary alone, alternating binaries and
# settings round by round, and prints each variant's wall times (the
# process from start to exit: the test body, the grace, the report) and
# CPU times (user + system: the grace costs next to none, so this is the
# report's work and start-up, and moves less with the machine's load).
#
#   benches/failing_report.sh ROUNDS TEST NAME=BINARY...
#
# e.g. with hyper's lib tests converted by the README's sed, built once
# with the previous taskleak and once with this one (copied aside):
#
#   benches/failing_report.sh 5 proto::h1::dispatch::tests::client_flushing_is_not_ready_for_next_request \
#       before=/tmp/hyper-before after=/tmp/hyper-after
#
# Each binary runs with the default settings and with TASKLEAK_BACKTRACE=off;
# a binary whose name ends in `+cache` runs with TASKLEAK_SYMBOL_CACHE set to
# a directory of its own, filled by one run before the rounds.
set -eu
rounds=$1
test=$2
shift 2
out=$(mktemp -d)
run() { # name, binary, env...
    name=$1
    bin=$2
    shift 2
    /usr/bin/time -f "%e %U %S" -o "$out/t" env "$@" "$bin" --exact "$test" >/dev/null 2>&1 || true
    tail -1 "$out/t" | awk '{ print $1 }' >>"$out/$name"
    tail -1 "$out/t" | awk '{ print $2 + $3 }' >>"$out/$name.cpu"
}
for v in "$@"; do
    case ${v%%=*} in
    *+cache) env TASKLEAK_SYMBOL_CACHE="$out/cache-${v%%=*}" "${v#*=}" --exact "$test" >/dev/null 2>&1 || true ;;
    esac
done
for r in $(seq "$rounds"); do
    for v in "$@"; do
        name=${v%%=*}
        bin=${v#*=}
        case $name in
        *+cache) run "$name" "$bin" TASKLEAK_SYMBOL_CACHE="$out/cache-$name" ;;
        *) run "$name" "$bin" TASKLEAK_SYMBOL_CACHE=off ;;
        esac
        run "$name, backtrace off" "$bin" TASKLEAK_BACKTRACE=off TASKLEAK_SYMBOL_CACHE=off
    done
done
for f in "$out"/*; do
    [ -f "$f" ] && [ "$(basename "$f")" != t ] || continue
    sort -n "$f" | awk -v n="$(basename "$f" | sed 's/[.]cpu$/ (cpu)/')" '{ t[NR] = $1 } END { printf "%-34s median %.3f s  min %.3f  max %.3f  (%d runs)\n", n, t[int((NR + 1) / 2)], t[1], t[NR], NR }'
done
rm -rf "$out"

#!/bin/sh
# bench/net/drain.sh BUILD_DIR: how long a drain takes (SIGTERM to a
# `stage node` whose DRAIN_N idle mobile actors move to two other nodes on
# loopback: 10,000), RUNS times (3). Prints one JSON line per run, kept also
# in BUILD_DIR/bench/net/drain.jsonl:
#   moves_s  from SIGTERM to the last move (the node's own count)
#   total_s  from SIGTERM to the process's exit (handovers, leave, goodbye)
set -u
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
stage=$build/src/cli/stage
out=$build/bench/net
n=${DRAIN_N:-10000}
runs=${RUNS:-3}
mkdir -p "$out"
: >"$out/drain.jsonl"
pids=""
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; wait 2>/dev/null' EXIT INT TERM
# wait_for FILE REGEX: until FILE has a line matching REGEX (20 s at most)
wait_for() {
    w=0
    until grep -Eq "$2" "$1" 2>/dev/null; do
        w=$((w + 1))
        [ "$w" -gt 400 ] && { echo "# no /$2/ in $1" >&2; exit 1; }
        sleep 0.05 # polling a file for an event, with a deadline
    done
}
now() { date +%s.%N; }
for r in $(seq 1 "$runs"); do
    "$stage" node --theatres 2 "$here/drain.lua" idle >"$out/drain_a.out" 2>&1 &
    a=$!
    pids="$pids $a"
    wait_for "$out/drain_a.out" "listening, manager"
    addr=$(sed -n "s/^stage: info: node '\([^']*\)' listening.*/\1/p" "$out/drain_a.out")
    "$stage" node --theatres 2 --join "$addr" "$here/drain.lua" idle >"$out/drain_c.out" 2>&1 &
    c=$!
    pids="$pids $c"
    "$stage" node --theatres 2 --join "$addr" "$here/drain.lua" target "$n" >"$out/drain_b.out" 2>&1 &
    b=$!
    pids="$pids $b"
    # ready: its actors are spawned, and it has read both other nodes'
    # host entries, which the drain plans by
    wait_for "$out/drain_b.out" '^ready$'
    t0=$(now)
    kill -TERM "$b"
    wait "$b" || { echo "# the drained node exited $?" >&2; exit 1; }
    t1=$(now)
    moves=$(sed -n 's/.*draining: moves done: \([0-9]*\) of \([0-9]*\) actors moved.*(\([0-9.]*\) s)$/\1 \2 \3/p' "$out/drain_b.out")
    set -- $moves
    [ "${1:-0}" = "$n" ] || { echo "# only ${1:-0} of $n actors moved" >&2; exit 1; }
    awk -v n="$n" -v m="$3" -v a="$t0" -v b="$t1" 'BEGIN {
        printf "{\"bench\":\"drain\",\"actors\":%d,\"moves_s\":%s,\"total_s\":%.3f}\n", n, m, b - a }' |
        tee -a "$out/drain.jsonl"
    kill -INT "$a" "$c"
    wait "$a" "$c" 2>/dev/null
    pids=""
done

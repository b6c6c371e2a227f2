#!/bin/sh
# bench/code/run.sh BUILD_DIR: issue 12's figures of code that travels.
#   code.lua    the first spawn of a type on a node that has no code for
#               it (the sources store's fetch, and the load in every
#               theatre) against a spawn of a type it has, RUNS times
#               (default 5), each with fresh nodes W and B (no script);
#               with the load time B logs
#   update.lua  the time from stage.update_type to every live actor of
#               the type on NODES nodes (default 4, with no script, plus
#               the updating one) running the new code
# Prints every result line (JSON). Not part of `make bench`: run it
# alone, briefly.
#
# Environment: RUNS (5), N (50 known spawns a run), THEATRES (2), NODES
# (4), K (100 actors a node), UPDATES (20).
set -u
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
stage=$build/src/cli/stage
runs=${RUNS:-5}
th=${THEATRES:-2}
tmp=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
[ -x "$stage" ] || { echo "bench/code: no $stage: build first" >&2; exit 1; }

# node NAME [ARGS...]: start a node with no script; its address in $addr
node() {
    name=$1
    shift
    "$stage" node --theatres "$th" "$@" >"$tmp/$name.out" 2>&1 &
    pids="$pids $!"
    n=0
    until addr=$(sed -n "s/^stage: info: node '\([^']*\)' listening.*/\1/p" \
        "$tmp/$name.out" 2>/dev/null) && [ -n "$addr" ]; do
        n=$((n + 1))
        [ "$n" -gt 200 ] && { echo "bench/code: $name did not start" >&2; exit 1; }
        sleep 0.05 # polling a log for the node's address, with a deadline
    done
}

echo "# machine: $(nproc) cores, Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$runs"); do
    node W$r
    w=$addr
    node B$r --join "$w"
    "$stage" node --join "$w" --theatres "$th" "$here/code.lua" "$w" "$addr" \
        "${N:-50}" || echo "# run $r failed" >&2
    grep -h "loaded the code" "$tmp/B$r.out" | sed 's/^/# B: /'
    for p in $pids; do kill "$p" 2>/dev/null; done
    pids=""
done

# update_type across NODES nodes with no script, plus the updating one
node U0
first=$addr
list=$addr
for i in $(seq 2 "${NODES:-4}"); do
    node U$i --join "$first"
    list="$list $addr"
done
# shellcheck disable=SC2086 # the addresses are words
"$stage" node --join "$first" --theatres "$th" "$here/update.lua" $list -- \
    "${K:-100}" "${UPDATES:-20}" || echo "# update.lua failed" >&2

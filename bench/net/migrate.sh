#!/bin/sh
# bench/net/migrate.sh BUILD_DIR: moves between two `stage node`s on
# loopback (bench/net/migrate.lua says what is measured). Prints its JSON
# lines, kept also in BUILD_DIR/bench/net/migrate.jsonl. MOVES_N: moves
# there and back per size (500); MOVES_KEPT: moves there and back over
# which the memory kept per arrival is measured (10000).
set -u
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
stage=$build/src/cli/stage
out=$build/bench/net
n=${MOVES_N:-500}
mkdir -p "$out"
"$stage" node --theatres 2 --files /proc/self "$here/migrate.lua" serve >"$out/migrate_a.out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
w=0
until grep -q '^ready$' "$out/migrate_a.out" 2>/dev/null; do
    w=$((w + 1))
    [ "$w" -gt 200 ] && { echo "# the serving node did not start" >&2; exit 1; }
    sleep 0.05 # polling a file for an event, with a deadline
done
addr=$(sed -n "s/^stage: info: node '\([^']*\)' listening.*/\1/p" "$out/migrate_a.out")
"$stage" node --theatres 2 --join "$addr" "$here/migrate.lua" drive "$addr" "$n" \
    "${MOVES_KEPT:-10000}" |
    grep '^{"bench"' | tee "$out/migrate.jsonl"

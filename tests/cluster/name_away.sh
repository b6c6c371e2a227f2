#!/bin/sh
# cluster.name_away: a named actor that moved to another node and stops
# there lets its name go: its birth node, which holds the name, hears that
# it stopped (GONE) and releases it, and the name can be given again.
# Before, the name named the stopped actor until its birth node stopped.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 2 --period 0.2"
start a $opts "$here/name_away.lua" idle
start d --join "$ADDR_a" $opts "$here/name_away.lua" idle
"$STAGE" node --join "$ADDR_a" $opts "$here/name_away.lua" home "$ADDR_d" \
    >"$DIR/h.out" 2>&1 || fail "the name did not go with its actor"
grep -q '^ok$' "$DIR/h.out" || fail "no check"
kill -INT "$PID_a" "$PID_d"
wait_exit "$PID_a" 20
wait_exit "$PID_d" 20
echo "cluster.name_away: ok"

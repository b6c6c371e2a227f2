#!/bin/sh
# cluster.orphan: an actor that moved away from its birth node survives
# that node's death (SIGKILL), and its first id still reaches it: the node
# it lives on makes it its own and tells the migrations store, and a
# sender of the first id finds it there (a few NodeDown failures at most
# while the death spreads), with its state and its messages in order. Its
# name, which died with its birth node, names it again: the node it lives
# on claims it (the names came with the move). Then the birth node starts
# again at its address: a node that joins after it reaches the actor by
# its first id too.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 2 --period 0.2"
start a $opts "$here/drain.lua" idle
start d --join "$ADDR_a" $opts "$here/drain.lua" idle
start h --join "$ADDR_a" $opts "$here/drain.lua" home "$ADDR_d"
wait_line "$DIR/h.out" '^moved ' 30
id=$(sed -n 's/^moved //p' "$DIR/h.out")
kill -9 "$PID_h"
"$STAGE" node --join "$ADDR_a" $opts "$here/drain.lua" reach "$id" named \
    >"$DIR/s.out" 2>&1 || fail "the first id or the name did not reach the actor"
grep -q '^named again$' "$DIR/s.out" || fail "no check of the name"
grep -q '^ok after' "$DIR/s.out" || fail "no check"
# the dead home starts again at its address; a node that joins then knows
# nothing of the run that died, and its first id still reaches the actor
start h2 --listen "$ADDR_h" --join "$ADDR_a" $opts "$here/drain.lua" idle
"$STAGE" node --join "$ADDR_a" $opts "$here/drain.lua" rejoined "$id" \
    >"$DIR/r.out" 2>&1 || fail "after the restart: $(grep -v '^stage: info' "$DIR/r.out" | head -3)"
grep -q '^ok rejoined$' "$DIR/r.out" || fail "no check after the restart"
kill -INT "$PID_a" "$PID_d" "$PID_h2"
wait_exit "$PID_a" 20
wait_exit "$PID_d" 20
wait_exit "$PID_h2" 20
echo "cluster.orphan: ok"

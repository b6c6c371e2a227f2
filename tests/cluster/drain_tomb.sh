#!/bin/sh
# cluster.drain_tomb: an actor born on h moves to e and back, so e keeps a
# tomb of it (the id it had there, which its references from then keep
# naming). e drains and leaves: it hands the tomb to h, which puts that
# id -> its own into the migrations store. A node that joins afterwards
# reaches the actor, on h, through the id it had on e, messages in order.
# Once the actor stops, h removes that entry: a node that joins then
# finds no later place for the id (the store keeps nothing for it).
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 2 --period 0.2"
start e $opts "$here/drain_tomb.lua" idle
start h --join "$ADDR_e" $opts "$here/drain_tomb.lua" home "$ADDR_e"
wait_line "$DIR/h.out" '^left ' 30
id=$(sed -n 's/^left //p' "$DIR/h.out")
kill -TERM "$PID_e"
wait_exit "$PID_e" 60
grep -q "draining: 1 of 1 ids that actors had here before they left lead to their homes now" \
    "$DIR/e.out" || fail "the drained node did not hand its tomb over"
start n --join "$ADDR_h" $opts "$here/drain_tomb.lua" later "$id"
wait_exit "$PID_n" 30
grep -q "^ok $ADDR_h~" "$DIR/n.out" || fail "the later node did not reach it on h"
# the removal may still be on its way when a node first asks, and a node
# keeps the answer it got: each try is a fresh node, 20 at most
tries=0
while :; do
    start g --join "$ADDR_h" $opts "$here/drain_tomb.lua" gone "$id"
    wait "$PID_g" || true
    grep -q "^gone " "$DIR/g.out" && break
    tries=$((tries + 1))
    [ "$tries" -ge 20 ] &&
        fail "the store still leads the id somewhere: $(grep -v '^stage:' "$DIR/g.out")"
done
kill -INT "$PID_h"
wait_exit "$PID_h" 20
echo "cluster.drain_tomb: ok"

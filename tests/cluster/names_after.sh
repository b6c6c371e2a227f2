#!/bin/sh
# cluster.names_after: the names and types of actors that moved away from
# their birth node outlive it (SIGKILL), also the names given to them
# through their first ids after they moved: at the birth node, from
# another node, while a move was under way, and before a second move on
# (names_after.lua says each). The nodes they live on claim every name
# again (and release them when the actors stop there), and find_type and
# find_subtype find them there at once. A long lease keeps the DHT's
# renewals, which would put a lost supertype link back, out of the test.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 2 --period 0.2 --lease 90"
start a $opts "$here/names_after.lua" idle
start g --join "$ADDR_a" $opts "$here/names_after.lua" local
start k --join "$ADDR_a" $opts "$here/names_after.lua" local
wait_line "$DIR/g.out" '^ready$' 20
wait_line "$DIR/k.out" '^ready$' 20
start h --join "$ADDR_a" $opts "$here/names_after.lua" home "$ADDR_g" \
    "$ADDR_k"
wait_line "$DIR/h.out" '^ready ' 30
stay=$(sed -n 's/^ready //p' "$DIR/h.out")
"$STAGE" node --join "$ADDR_a" $opts "$here/names_after.lua" namer "$stay" \
    remote-stay >"$DIR/n.out" 2>&1 || fail "naming from another node failed"
grep -q '^named$' "$DIR/n.out" || fail "no name from another node"
kill -9 "$PID_h"
"$STAGE" node --join "$ADDR_a" $opts "$here/names_after.lua" check "$ADDR_h" \
    "$ADDR_g" "$ADDR_k" >"$DIR/c.out" 2>&1 ||
    fail "a name or a type did not outlive the birth node"
grep -q '^ok$' "$DIR/c.out" || fail "no check"
kill -INT "$PID_a" "$PID_g" "$PID_k"
wait_exit "$PID_a" 20
wait_exit "$PID_g" 20
wait_exit "$PID_k" 20
echo "cluster.names_after: ok"

#!/bin/sh
# cluster.name_away: the names of an actor that moved to another node
# (name_away.lua says which): given before the move, after it through its
# first id at its birth node, and from a third node (a NAME frame to the
# birth node), each reaches it where it lives and goes when it stops
# there. Before, naming an actor that had moved away failed ActorNotFound,
# and a name stayed with the stopped actor until its birth node stopped.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 2 --period 0.2"
mkdir -p "$DIR/f"
start a $opts "$here/name_away.lua" idle
start d --join "$ADDR_a" $opts "$here/name_away.lua" idle
start h --join "$ADDR_a" $opts --files "$DIR/f" "$here/name_away.lua" home \
    "$ADDR_d"
wait_line "$DIR/h.out" '^moved ' 20
id=$(sed -n 's/^moved //p' "$DIR/h.out")
"$STAGE" node --join "$ADDR_a" $opts "$here/name_away.lua" namer "$id" \
    >"$DIR/n.out" 2>&1 || fail "naming the actor from another node failed"
grep -q '^named$' "$DIR/n.out" || fail "no name from another node"
: >"$DIR/f/named"
wait_exit "$PID_h" 30
grep -q '^ok$' "$DIR/h.out" || fail "no check"
kill -INT "$PID_a" "$PID_d"
wait_exit "$PID_a" 20
wait_exit "$PID_d" 20
echo "cluster.name_away: ok"

#!/bin/sh
# cluster.hosts: each node publishes its host entry in the DHT (address,
# theatres, load, actors, whether it takes actors that move), and
# stage.hosts() reads those of the nodes it has sessions with, its own
# first; a node that stops is no longer listed. stage run lists itself.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
start a --theatres 2 "$here/hosts.lua" serve 40
start b --join "$ADDR_a" --theatres 3 "$here/hosts.lua" serve 40
wait_line "$DIR/a.out" '^ready$'
wait_line "$DIR/b.out" '^ready$'
"$STAGE" node --join "$ADDR_a" "$here/hosts.lua" check 40 "$ADDR_a" \
    "$ADDR_b" >"$DIR/c.out" 2>&1 || fail "the hosts were not listed"
grep -q "^$ADDR_b theatres 3 actors>=40 true\$" "$DIR/c.out" ||
    fail "b's entry is not b's"
grep -q "^$ADDR_a theatres 2 actors>=40 true\$" "$DIR/c.out" ||
    fail "a's entry is not a's"
# the first line is the asking node itself
first=$(grep -v '^stage: ' "$DIR/c.out" | head -n 1)
echo "$first" | grep -Eq '^127\.0\.0\.1:[0-9]+ theatres [0-9]+ ' ||
    fail "the asking node is not first: $first"
echo "$first" | grep -q "^$ADDR_a \|^$ADDR_b " &&
    fail "the first entry is another node's: $first"
# b stops: a no longer lists it (no session, no question)
kill "$PID_b"
wait_exit "$PID_b"
"$STAGE" node --join "$ADDR_a" "$here/hosts.lua" check 40 "$ADDR_a" \
    >"$DIR/d.out" 2>&1 || fail "a was not listed after b stopped"
grep -q "^$ADDR_b " "$DIR/d.out" && fail "b is listed after it stopped"
# an embedded node lists itself
"$STAGE" run "$here/hosts.lua" check 0 >"$DIR/e.out" 2>&1 ||
    fail "stage run: stage.hosts() failed"
grep -Eq '^local theatres [0-9]+ actors>=0 true$' "$DIR/e.out" ||
    fail "stage run does not list itself"
echo "cluster.hosts: ok"

#!/bin/sh
# cluster.basic: four nodes on loopback. Two name an Area each and start a
# Logger; the fourth finds them by name and type, spawns on another node,
# checks order and failures.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
start seed --theatres 2
start a --join "$ADDR_seed" --theatres 2 "$here/serve.lua" area-a
start b --join "$ADDR_seed" --theatres 2 "$here/serve.lua" area-b
wait_line "$DIR/a.out" '^ready area-a$'
wait_line "$DIR/b.out" '^ready area-b$'
"$STAGE" node --join "$ADDR_b" --theatres 2 "$here/client.lua" "$ADDR_a" \
    > "$DIR/client.out" 2>&1 || fail "the client failed"
grep -q '^ok$' "$DIR/client.out" || fail "the client did not finish"
echo "cluster.basic: ok"

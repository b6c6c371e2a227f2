#!/bin/sh
# cluster.find: find_subtype and find_type pick every actor with the same
# probability across nodes (find.lua says how the bounds are set).
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
start x --theatres 2 "$here/find.lua" x
wait_line "$DIR/x.out" '^ready x$'
start y --join "$ADDR_x" --theatres 2 "$here/find.lua" y
wait_line "$DIR/y.out" '^ready y$'
"$STAGE" node --join "$ADDR_y" --theatres 2 "$here/find.lua" checker \
    "$ADDR_x" > "$DIR/checker.out" 2>&1 || fail "the checker failed"
grep -q '^ok$' "$DIR/checker.out" || fail "the checker did not finish"
cat "$DIR/checker.out" | grep -E 'uniform'
echo "cluster.find: ok"

#!/bin/sh
# cluster.anywhere_example: examples/nodes/anywhere.lua, the README's tour
# of code on demand. The first node is started with no script; the second
# spawns an Area there, which it fetched from the sources store.
. "$(dirname "$0")/lib.sh"
ex=$(dirname "$0")/../../examples/nodes/anywhere.lua
start there --theatres 2
"$STAGE" node --join "$ADDR_there" --theatres 1 "$ex" "$ADDR_there" \
    > "$DIR/here.out" 2>&1 || fail "the second node failed"
[ "$(grep -v '^stage: ' "$DIR/here.out")" = "144, computed at $ADDR_there" ] ||
    fail "the second node printed other lines"
wait_line "$DIR/there.out" "^stage: info: loaded the code of actor type 'Area' from the sources store"
echo "cluster.anywhere_example: ok"

#!/bin/sh
# cluster.migrate_near: moves between nodes asked the ways a move inside
# a node can be asked. An actor moved next to another through that one's
# first id, while it is on another node, goes to that node. An actor that
# moves itself from its arrived hook (B, back home to A, B, A, B) while
# messages reach it through its first id: every call is answered, every
# message is handled once and in order, and the tour ends at B.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
start B --theatres 2 "$here/migrate_near.lua" idle
start A --join "$ADDR_B" --theatres 2 "$here/migrate_near.lua" home "$ADDR_B"
wait_line "$DIR/A.out" '^(near: |calls |stage: error)' 30
grep -q "^near: $ADDR_B\$" "$DIR/A.out" ||
    fail "moved next to an actor on B, it went to: $(grep '^near' "$DIR/A.out")"
wait_line "$DIR/A.out" '^calls ' 60
grep -q '^calls ok 300$' "$DIR/A.out" ||
    fail "the calls: $(grep '^calls' "$DIR/A.out")"
wait_line "$DIR/B.out" "^tour done at $ADDR_B moves 5\$" 30
grep -q 'out of order' "$DIR"/*.out && fail "messages out of order"
grep -q "^arrived at $ADDR_A " "$DIR/A.out" || fail "it never came back to A"
echo "cluster.migrate_near: ok"

#!/bin/sh
# cluster.migrate_example: examples/nodes/migrate.lua (SALSA's Migrate)
# on two nodes. The actor prints on the first node, moves, and prints on
# the second, counting its prints: its state went with it.
. "$(dirname "$0")/lib.sh"
ex=$(dirname "$0")/../../examples/nodes/migrate.lua
start there --theatres 1 "$ex"
"$STAGE" node --join "$ADDR_there" --theatres 1 "$ex" "$ADDR_there" \
    > "$DIR/here.out" 2>&1 || fail "the first node failed"
wait_line "$DIR/there.out" '^Migrate actor is here \(print 2\)\.$'
[ "$(grep -v '^stage: ' "$DIR/here.out")" = "Migrate actor is here (print 1).
Migrate actor is leaving." ] || fail "the first node printed other lines"
[ "$(grep -v '^stage: ' "$DIR/there.out")" = "Migrate actor has arrived.
Migrate actor is here (print 2)." ] || fail "the second node printed other lines"
echo "cluster.migrate_example: ok"

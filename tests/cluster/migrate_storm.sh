#!/bin/sh
# cluster.migrate_storm: an actor that moves itself on every 20th message
# between three nodes (B, its home A, C, ...) while three senders, one on
# a node of their own next to each, send it 5000 numbered messages each,
# every seventh a call: each sender's messages all arrive, once, in
# order, every call is answered, and it made hundreds of moves meanwhile.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 2"
start B $opts "$here/migrate_storm.lua" idle
start C --join "$ADDR_B" $opts "$here/migrate_storm.lua" idle
start A --join "$ADDR_B" $opts "$here/migrate_storm.lua" home "$ADDR_B" \
    "$ADDR_C"
wait_line "$DIR/A.out" '^ready$'
for x in A B C; do
    start "s$x" --join "$(eval echo \$ADDR_$x)" --theatres 1 \
        "$here/migrate_storm.lua" send "s$x" 5000
done
for x in A B C; do
    wait_line "$DIR/s$x.out" "^(done|call) " 90
    grep -q "^done s$x last 5000 bad 0 moves " "$DIR/s$x.out" ||
        fail "sender s$x saw: $(grep -v "^stage:" "$DIR/s$x.out")"
done
# the sender that finished last saw the most moves (15000 messages: up
# to 750 of them)
moves=$(sed -n 's/^done s. last 5000 bad 0 moves //p' "$DIR"/s?.out |
    sort -n | tail -n 1)
[ "$moves" -ge 400 ] || fail "only $moves moves"
grep -q 'out of order' "$DIR"/*.out && fail "messages out of order"
echo "cluster.migrate_storm: ok ($moves moves)"

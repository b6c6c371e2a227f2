#!/bin/sh
# cluster.ship_orphan: an actor whose home dies (SIGKILL) while its image
# is on its way home is not lost. c and g, born on h, live on d; a move of
# c is asked at h, and d's export of c (to send it home) waits for a
# handler of c, held until the test says so. h dies. d takes g (living
# there) over at once, and in the same step notes that c, being exported,
# has no home any more; so once g's first id reaches g (the migrations
# store has its entry), the test lets c's handler end: d keeps c (its
# image does not go to the dead home) and makes it its own, and c's first
# id reaches it, with its state and its messages in order.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 2 --period 0.2"
start a $opts "$here/ship_orphan.lua" idle
mkdir -p "$DIR/d.files"
start d --join "$ADDR_a" $opts --files "$DIR/d.files" \
    "$here/ship_orphan.lua" idle
start h --join "$ADDR_a" $opts \
    "$here/ship_orphan.lua" home "$ADDR_d" "$ADDR_a"
wait_line "$DIR/h.out" '^shipping ' 30
c=$(sed -n 's/^shipping \([^ ]*\) .*/\1/p' "$DIR/h.out")
g=$(sed -n 's/^shipping [^ ]* //p' "$DIR/h.out")
kill -9 "$PID_h"
"$STAGE" node --join "$ADDR_a" $opts "$here/ship_orphan.lua" reach "$g" 5 \
    >"$DIR/g.out" 2>&1 || fail "g's first id did not reach it"
grep -q '^ok after' "$DIR/g.out" || fail "no check of g"
echo go >"$DIR/d.files/go"
"$STAGE" node --join "$ADDR_a" $opts "$here/ship_orphan.lua" reach "$c" 4 \
    >"$DIR/c.out" 2>&1 ||
    fail "the actor shipping home when its home died was lost"
grep -q '^ok after' "$DIR/c.out" || fail "no check of c"
! grep -q 'lost' "$DIR/d.out" || fail "d logged a loss"
kill -INT "$PID_a" "$PID_d"
wait_exit "$PID_a" 20
wait_exit "$PID_d" 20
echo "cluster.ship_orphan: ok"

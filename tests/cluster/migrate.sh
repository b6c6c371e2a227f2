#!/bin/sh
# cluster.migrate: an actor moves between nodes while a sender on another
# node keeps sending through the reference it found by name (issue 11,
# points 1 and 2). The Mover, born on A, tours A -> B -> C -> A, three
# times and then to B and C, one move every 250 messages, while the
# sender sends 3000 numbered messages, every tenth a call: every message
# arrives once and in order, every call is answered, all eleven moves are
# made; the name still finds it, at C. An actor holding a function is refused a move to another
# node, naming the field, and serves on. Then a move to a node D that is frozen (SIGSTOP) and killed
# (SIGKILL) before it answers: the move fails, and the actor is taken back
# at its home A with its state, and serves on.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 2"
start B $opts "$here/migrate.lua" idle
start C --join "$ADDR_B" $opts "$here/migrate.lua" idle
start A --join "$ADDR_B" $opts "$here/migrate.lua" home \
    "$ADDR_B" "$ADDR_C" home "$ADDR_B" "$ADDR_C" home "$ADDR_B" "$ADDR_C" \
    home "$ADDR_B" "$ADDR_C"
wait_line "$DIR/A.out" '^ready$'
start S --join "$ADDR_B" --theatres 1 "$here/migrate.lua" send 3000
wait_line "$DIR/S.out" '^sender (ok|FAILED)' 60
grep -q '^sender ok: 3000 in order, 300 calls, 11 moves, at '"$ADDR_C"'$' \
    "$DIR/S.out" || fail "the sender saw: $(grep '^sender' "$DIR/S.out")"
grep -q 'out of order' "$DIR"/*.out && fail "messages out of order"
for n in A B C; do
    grep -q "^arrived at $(eval echo \$ADDR_$n) " "$DIR/$n.out" ||
        fail "the Mover never arrived at $n"
done
# the name follows: a new reference by name reaches it at C
start F --join "$ADDR_B" --theatres 1 "$here/migrate.lua" find
wait_line "$DIR/F.out" "^found at $ADDR_C\$" 30
# a destination that dies before it answers
start D --join "$ADDR_B" $opts "$here/migrate.lua" idle
kill -STOP "$PID_D"
start M --join "$ADDR_B" --theatres 1 "$here/migrate.lua" move "$ADDR_D" \
    "$ADDR_B"
wait_line "$DIR/M.out" '^asked$'
grep -q "^keeper: .*NotSendable.*self.f is a function.*; kept\$" "$DIR/M.out" ||
    fail "the Keeper's refusal: $(grep '^keeper' "$DIR/M.out")"
kill -9 "$PID_D"
wait_line "$DIR/M.out" '^after: ' 60
grep -q "^move refused: .*$ADDR_D" "$DIR/M.out" ||
    fail "the move's failure does not name the dead node"
grep -q "^after: last 3000, bad 0, at $ADDR_A, serving 1\$" "$DIR/M.out" ||
    fail "the actor was not taken back intact: $(grep '^after' "$DIR/M.out")"
echo "cluster.migrate: ok"

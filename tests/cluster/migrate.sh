#!/bin/sh
# cluster.migrate: an actor moves between nodes while a sender on another
# node keeps sending through the reference it found by name (issue 11,
# points 1 and 2). The Mover, born on A, tours A -> B -> C -> A, three
# times and then to B and C, one move every 250 messages, while the
# sender sends 3000 numbered messages, every tenth a call: every message
# arrives once and in order, every call is answered, all eleven moves are
# made (the last to C named "localhost:PORT"); the name still finds it, at
# C. An actor holding a function is refused a move to another node, naming
# the field, and serves on; a move of the Mover to "localhost:1", where
# nobody listens, fails NodeUnreachable, and it serves on. Then a move to a node D that is frozen (SIGSTOP) and killed
# (SIGKILL) before it answers: the move fails, and the actor is taken back
# at its home A with its state, and serves on. Last, the node it is at
# dies during a move: it is lost with that node, and the move and later
# messages say NodeDown; so do they once that node has restarted.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 2"
start B $opts "$here/migrate.lua" idle
start C --join "$ADDR_B" $opts "$here/migrate.lua" idle
# the last move names C as "localhost:PORT": the node at 127.0.0.1:PORT
C_local=$(echo "$ADDR_C" | sed 's/^127\.0\.0\.1:/localhost:/')
start A --join "$ADDR_B" $opts "$here/migrate.lua" home \
    "$ADDR_B" "$ADDR_C" home "$ADDR_B" "$ADDR_C" home "$ADDR_B" "$ADDR_C" \
    home "$ADDR_B" "$C_local"
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
mkdir -p "$DIR/m"
start M --join "$ADDR_B" --theatres 1 --files "$DIR/m" "$here/migrate.lua" \
    move "$ADDR_D" "$ADDR_B"
# M looks its actors up first: D, frozen, might hold their DHT entries
wait_line "$DIR/M.out" '^resolved$'
kill -STOP "$PID_D"
: >"$DIR/m/frozen"
wait_line "$DIR/M.out" '^asked$'
grep -q "^keeper: .*NotSendable.*self.f is a function.*; kept\$" "$DIR/M.out" ||
    fail "the Keeper's refusal: $(grep '^keeper' "$DIR/M.out")"
grep -q "^nobody: NodeUnreachable: node '127.0.0.1:1' .*; last 3000\$" \
    "$DIR/M.out" || fail "a move to localhost:1: $(grep '^nobody' "$DIR/M.out")"
kill -9 "$PID_D"
wait_line "$DIR/M.out" '^after: ' 60
grep -q "^move refused: .*$ADDR_D" "$DIR/M.out" ||
    fail "the move's failure does not name the dead node"
grep -q "^after: last 3000, bad 0, at $ADDR_A, serving 1\$" "$DIR/M.out" ||
    fail "the actor was not taken back intact: $(grep '^after' "$DIR/M.out")"
# the node the actor is at dies during a move: the actor is lost with it
# (as one that never moved), the move and later messages fail NodeDown
start G --join "$ADDR_B" $opts "$here/migrate.lua" idle
start T --join "$ADDR_B" --theatres 1 "$here/migrate.lua" go "$ADDR_G"
wait_line "$DIR/T.out" "^went to $ADDR_G first " 30
first=$(sed -n 's/^went to .* first //p' "$DIR/T.out")
kill -STOP "$PID_G"
start L --join "$ADDR_B" --theatres 1 "$here/migrate.lua" lose "$ADDR_B" \
    "$first"
wait_line "$DIR/L.out" '^asked$'
kill -9 "$PID_G"
wait_line "$DIR/L.out" '^then: ' 60
grep -q "^lose: NodeDown: .*'$ADDR_G' went down with the actor" "$DIR/L.out" ||
    fail "the move's failure: $(grep '^lose' "$DIR/L.out")"
grep -q "^then: NodeDown" "$DIR/L.out" ||
    fail "a message to the lost actor: $(grep '^then' "$DIR/L.out")"
# the node an actor moved to is killed and restarted at its address: the
# actor is lost with it; a move asked at its home fails NodeDown at once
# (it used to wait forever: the new node dropped the step), and so do calls
start H --join "$ADDR_B" $opts "$here/migrate.lua" idle
mkdir -p "$DIR/r"
start R --join "$ADDR_B" --theatres 1 --files "$DIR/r" "$here/migrate.lua" \
    reborn "$ADDR_H" "$ADDR_B"
wait_line "$DIR/R.out" '^moved$' 30
kill -9 "$PID_H"
wait "$PID_H" 2>/dev/null
mv "$DIR/H.out" "$DIR/H-run1.out"
start H --listen "$ADDR_H" --join "$ADDR_B" $opts "$here/migrate.lua" idle
: >"$DIR/r/restarted"
wait_line "$DIR/R.out" '^reborn then: ' 60
grep -Eq "^reborn move: NodeDown: .*(restarted: the actor is lost|went down with the actor)" \
    "$DIR/R.out" || fail "the move: $(grep '^reborn move' "$DIR/R.out")"
grep -q "^reborn then: NodeDown" "$DIR/R.out" ||
    fail "a call: $(grep '^reborn then' "$DIR/R.out")"
# then the home drains (SIGTERM): the restarted node answers the hand-over
# of the lost actor at once, and the drain goes on without waiting for it
kill -TERM "$PID_R"
wait_exit "$PID_R" 30
grep -q "^stage: warn: draining: node '$ADDR_H' did not take actor '[^']*/Mover/[0-9]*' over: node down\$" \
    "$DIR/R.out" || fail "the hand-over: $(grep 'draining' "$DIR/R.out")"
echo "cluster.migrate: ok"

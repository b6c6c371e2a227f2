#!/bin/sh
# cluster.drained_later: a node that joins after another node drained and
# left — so it never knew that node — reaches an actor that was born there
# through its first id: the connection to the left node's address is
# refused (twice: nothing listens there), and the message goes where the
# migrations store says the actor went (x), with the actor's state and
# order kept.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 2 --period 0.2"
start b $opts "$here/drain.lua" spawn one
start x --join "$ADDR_b" $opts "$here/drain.lua" idle
wait_line "$DIR/b.out" '^spawned ' 30
id=$(sed -n 's/^spawned //p' "$DIR/b.out")
kill -TERM "$PID_b"
wait_exit "$PID_b" 60
grep -q "draining: moves done: 1 of 1 actors moved" "$DIR/b.out" ||
    fail "the drained node did not move its actor"
start n --join "$ADDR_x" $opts "$here/drain.lua" later "$id"
wait_exit "$PID_n" 30
grep -q '^ok at once$' "$DIR/n.out" || fail "the late node did not reach it"
# nothing listens at b's address: two refused connects are enough to go on
grep -q "giving up on '$ADDR_b': 2 connection attempts in a row were refused" \
    "$DIR/n.out" || fail "the late node did not give b up at its 2nd refusal"
kill -INT "$PID_x"
wait_exit "$PID_x" 20
echo "cluster.drained_later: ok"

#!/bin/sh
# cluster.death: a `stage node` stopped with SIGINT runs death() for each
# of its live actors (one suspended in an await too), on both theatres,
# and their messages to an actor of another node arrive before it leaves.
# With SIGTERM it drains first, for at most --drain seconds: the actor that
# can move goes to the other node, the one suspended in an await for ten
# minutes cannot (it moves once that handler ends), and stays, and its
# death runs when the drain gives up.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
start sink --theatres 2 "$here/death.lua" sink
wait_line "$DIR/sink.out" '^ready sink$'
start dying --join "$ADDR_sink" --theatres 2 "$here/death.lua" dying
wait_line "$DIR/dying.out" '^ready dying$'
kill -INT "$PID_dying"
wait_exit "$PID_dying" 10
grep -q '^death m0$' "$DIR/dying.out" || fail "death of m0 did not run"
grep -q '^death m1$' "$DIR/dying.out" || fail "death of m1 did not run"
wait_line "$DIR/sink.out" '^sink got: death of m0$' 10
wait_line "$DIR/sink.out" '^sink got: death of m1$' 10
# SIGTERM: a drain that cannot move m1, given up after 1 s
start drained --join "$ADDR_sink" --theatres 2 --drain 1 "$here/death.lua" \
    dying
wait_line "$DIR/drained.out" '^ready dying$'
kill -TERM "$PID_drained"
wait_exit "$PID_drained" 10
grep -q 'draining: not done in 1 s (--drain): 1 actor not moved' \
    "$DIR/drained.out" || fail "the drain did not give up on m1"
grep -q '^death m1$' "$DIR/drained.out" || fail "death of m1 did not run"
grep -q '^death m0$' "$DIR/drained.out" && fail "m0 died instead of moving"
# m0 lives on at the sink's node: its death runs there as that node stops
kill -INT "$PID_sink"
wait_exit "$PID_sink" 10
grep -q '^sink death$' "$DIR/sink.out" || fail "the sink's death did not run"
grep -q '^death m0$' "$DIR/sink.out" || fail "m0 did not move to the sink's node"
echo "cluster.death: ok"

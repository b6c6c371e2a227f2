#!/bin/sh
# cluster.death: a `stage node` stopped with SIGTERM runs death() for each
# of its live actors (one suspended in an await too), on both theatres,
# and their messages to an actor of another node arrive before it leaves.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
start sink --theatres 2 "$here/death.lua" sink
wait_line "$DIR/sink.out" '^ready sink$'
start dying --join "$ADDR_sink" --theatres 2 "$here/death.lua" dying
wait_line "$DIR/dying.out" '^ready dying$'
kill -TERM "$PID_dying"
wait_exit "$PID_dying" 10
grep -q '^death m0$' "$DIR/dying.out" || fail "death of m0 did not run"
grep -q '^death m1$' "$DIR/dying.out" || fail "death of m1 did not run"
wait_line "$DIR/sink.out" '^sink got: death of m0$' 10
wait_line "$DIR/sink.out" '^sink got: death of m1$' 10
kill -TERM "$PID_sink"
wait_exit "$PID_sink" 10
grep -q '^sink death$' "$DIR/sink.out" || fail "the sink's death did not run"
echo "cluster.death: ok"

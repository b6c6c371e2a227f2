#!/bin/sh
# cluster.declared: node K is stopped (SIGSTOP) for longer than the node
# timeout (1 s here). Node A, calling K's Sink every 50 ms, declares K dead
# (nothing heard from it): the call waiting fails with NodeDown saying why,
# and a new call fails at once. When K is continued it does not declare A
# dead in turn (it knows it was the one not running): it reconnects, is
# answered DEAD, says who declared it dead and why, and exits with status
# 1. A runs on (and stops with status 0 at SIGTERM).
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 1 --node-timeout 1"
start k $opts "$here/sink.lua" sink
wait_line "$DIR/k.out" '^ready sink$'
start a --join "$ADDR_k" $opts "$here/downed.lua" sink stay
wait_line "$DIR/a.out" '^calling$'

kill -STOP "$PID_k"
t0=$(date +%s%N)
wait_line "$DIR/a.out" '^failed ' 10
t1=$(date +%s%N)
echo "cluster.declared: the call failed $(( (t1 - t0) / 1000000 )) ms after the stop"
grep -q "^failed NodeDown: .*'$ADDR_k' is down before it replied: nothing heard from it for" \
    "$DIR/a.out" || fail "the call did not fail with NodeDown for the silence"
wait_line "$DIR/a.out" '^then NodeDown in [0-9]+ ms$' 5

kill -CONT "$PID_k"
wait_line "$DIR/k.out" "error: this node \(incarnation [0-9a-f]+\) was declared dead by '$ADDR_a' \(node '$ADDR_a' declared it dead: nothing heard from it for [0-9]+ ms\): stopping" 10
wait "$PID_k"
status=$?
[ "$status" -eq 1 ] || fail "the node declared dead exited with status $status, not 1"
grep -q 'declared dead by' "$DIR/a.out" && fail "the live node was declared dead"
kill -TERM "$PID_a"
wait_exit "$PID_a" 10
echo "cluster.declared: ok"

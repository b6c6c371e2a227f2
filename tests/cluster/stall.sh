#!/bin/sh
# cluster.stall: reliable sessions and failure detection between real
# nodes. A feeder on node A sends the Sink on node K a one-way put(i) and
# a call echo(i) every 50 ms.
#  1. K is stopped (SIGSTOP) for 100 rounds of the feeder (5 s, half the
#     default node timeout), then continued: the sink got every put once,
#     in order, every call succeeded, and neither node declared anything
#     dead.
#  2. K is killed (SIGKILL): calls from another node fail with NodeDown
#     within 3 s (on loopback the refused reconnects find it in
#     milliseconds: the time is printed), and a call made after that fails
#     at once.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
start k --theatres 1 "$here/sink.lua" sink
wait_line "$DIR/k.out" '^ready sink$'
start a --join "$ADDR_k" --theatres 1 "$here/feeder.lua" sink 200
wait_line "$DIR/a.out" '^sent 20$'

kill -STOP "$PID_k"
t0=$(date +%s%N)
wait_line "$DIR/a.out" '^sent 120$' 30 # 100 rounds of 50 ms: 5 s or more
kill -CONT "$PID_k"
t1=$(date +%s%N)
echo "cluster.stall: K was stopped for $(( (t1 - t0) / 1000000 )) ms"
wait_exit "$PID_a" 60
grep -q '^report 200 0$' "$DIR/a.out" ||
    fail "the sink did not get puts 1..200 once each, in order"
grep -q '^put ' "$DIR/k.out" && fail "the sink got a put out of order"
grep -Eq 'declared dead|\(incarnation [0-9a-f]+\) is down' "$DIR/a.out" "$DIR/k.out" &&
    fail "a stall shorter than the node timeout declared a node dead"

start b --join "$ADDR_k" --theatres 1 "$here/downed.lua" sink
wait_line "$DIR/b.out" '^calling$'
t0=$(date +%s%N)
kill -9 "$PID_k"
wait_line "$DIR/b.out" '^failed ' 10
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
echo "cluster.stall: the first call failed $ms ms after the kill"
grep -q '^failed NodeDown: ' "$DIR/b.out" ||
    fail "the call to the killed node did not fail with NodeDown"
[ "$ms" -lt 3000 ] || fail "the kill took $ms ms to fail a call (3000 allowed)"
wait_line "$DIR/b.out" '^then ' 5
grep -Eq '^then NodeDown in [0-9] ms$|^then NodeDown in [0-9][0-9] ms$' \
    "$DIR/b.out" || fail "a call after the verdict did not fail at once: $(
        grep '^then ' "$DIR/b.out")"
echo "cluster.stall: ok"

#!/bin/sh
# cluster.eight: eight nodes (R = 3, lease 1 s) each name a Member and run
# a Worker. A ninth finds all of them by name and type; then one node is
# killed with SIGKILL: the other names are still found, and the dead
# node's name and Worker expire.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 1 --replicas 3 --lease 1 --period 0.2"
start n1 $opts "$here/member.lua" m1 special
prev=$ADDR_n1
names=m1
for i in 2 3 4 5 6 7 8; do
    start "n$i" --join "$prev" $opts "$here/member.lua" "m$i"
    eval "prev=\$ADDR_n$i"
    names="$names m$i"
done
for i in 1 2 3 4 5 6 7 8; do wait_line "$DIR/n$i.out" "^ready m$i\$"; done
"$STAGE" node --join "$ADDR_n2" $opts "$here/survey.lua" $names m5 \
    > "$DIR/survey.out" 2>&1 &
survey=$!
PIDS="$PIDS $survey"
wait_line "$DIR/survey.out" '^phase1 ok$'
kill -9 "$PID_n5"
wait "$survey" || fail "the survey failed"
grep -q '^survivors ok$' "$DIR/survey.out" || fail "survivors not found"
grep -q '^ok$' "$DIR/survey.out" || fail "the survey did not finish"
# the seven others stop together, each saying goodbye while the others
# shut down; every one must exit
for i in 1 2 3 4 6 7 8; do eval "kill -TERM \$PID_n$i"; done
for i in 1 2 3 4 6 7 8; do eval "wait_exit \$PID_n$i 15"; done
echo "cluster.eight: ok"

#!/bin/sh
# cluster.restart_pair: a ring of two nodes, one killed with SIGKILL and
# restarted at once at its address through the other, five times: each
# time the new run is taken into the ring (its main runs, its name is
# found from the other node). The survivor used to count the silence of
# the dead node's stabilize question against the new one it adopted in
# its place, and failed it too, so a restarted node was sometimes never
# taken in.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 1 --lease 1 --period 0.2"
start w $opts
start t --join "$ADDR_w" --join-timeout 10 $opts "$here/serve.lua" area-t
wait_line "$DIR/t.out" '^ready area-t$'
for i in 1 2 3 4 5; do
    kill -9 "$PID_t"
    wait "$PID_t" 2>/dev/null
    n=0 # W's verdict on this run: its i-th "is down" line
    until [ "$(grep -Ec "'$ADDR_t' \(incarnation [0-9a-f]+\) is down" \
        "$DIR/w.out")" -ge "$i" ]; do
        n=$((n + 1))
        [ "$n" -gt 200 ] && fail "W did not find run $i of T dead within 10 s"
        sleep 0.05 # polling a file for an event, with a deadline
    done
    # emptied here, not by the redirection below: that one runs in the
    # background child, and wait_line could read the last run's "ready"
    # before it does (then the new run was killed as it started)
    : > "$DIR/t.out"
    "$STAGE" node --listen "$ADDR_t" --join "$ADDR_w" --join-timeout 10 $opts \
        "$here/serve.lua" area-t > "$DIR/t.out" 2>&1 &
    PID_t=$!
    PIDS="$PIDS $PID_t"
    wait_line "$DIR/t.out" '^ready area-t$' 15
    grep -q "cannot join" "$DIR/t.out" && fail "run $((i + 1)) of T was not taken in"
done
echo "cluster.restart_pair: ok"

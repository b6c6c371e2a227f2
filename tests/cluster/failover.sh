#!/bin/sh
# cluster.failover: a named service and three callers on other nodes that
# call it in a loop (issue 10, failover in under a second). The service
# replaces its named actor three times on its node, then its node is
# killed with SIGKILL and started again at once at its address with the
# same script: the restarted node takes its name back at once (its main
# does not fail with AlreadyExists), and at each switch every caller sees
# at most one failed call before the new actor answers.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 1"
start seed $opts
start svc --join "$ADDR_seed" $opts "$here/failover_service.lua" svc 3 3
wait_line "$DIR/svc.out" '^ready '
for i in 1 2 3; do
    start "c$i" --join "$ADDR_seed" $opts "$here/failover_caller.lua" svc "$i" 3
done
for i in 1 2 3; do wait_line "$DIR/c$i.out" "^replaced $i\$" 30; done
grep -q '^switched to .*-3$' "$DIR/svc.out" || fail "the service did not switch"
kill -9 "$PID_svc"
wait "$PID_svc" 2>/dev/null # its port is free once it is gone
mv "$DIR/svc.out" "$DIR/svc-killed.out"
start svc --listen "$ADDR_svc" --join "$ADDR_seed" $opts \
    "$here/failover_service.lua" svc 3 3
wait_line "$DIR/svc.out" '^ready ' 20
for i in 1 2 3; do wait_line "$DIR/c$i.out" "^restarted $i\$" 30; done
grep -qi 'exists\|taken' "$DIR/svc.out" &&
    fail "the restarted node's claim failed"
kill -0 "$PID_svc" || fail "the restarted node is not running"
echo "cluster.failover: ok"

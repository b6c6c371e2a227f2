#!/bin/sh
# cluster.drain_fault: a drain while another node misbehaves.
#  1. One of the nodes the actors go to is frozen (SIGSTOP) for 3 s, under
#     the failure detector's threshold, while a sender floods the draining
#     node's actors: the drain waits for it, the node exits 0, and once it
#     runs again every message has arrived once, in order.
#  2. One of them is killed (SIGKILL) as the drain starts: its share goes
#     to the node that is left, and the drained node exits 0 with every
#     actor moved; its names name them where they are now (when the killed
#     node held every replica of a name, the DHT has no entry for it left:
#     the node that took the actor claims it again).
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 2 --period 0.2"
start a $opts "$here/drain.lua" idle
start e --join "$ADDR_a" $opts "$here/drain.lua" idle
start b --join "$ADDR_a" $opts "$here/drain.lua" target 300
wait_line "$DIR/b.out" '^ready$' 30
start c --join "$ADDR_a" $opts "$here/drain.lua" send "$ADDR_b" c
wait_line "$DIR/c.out" '^flooding c$' 30
kill -STOP "$PID_e"
kill -TERM "$PID_b"
sleep 3 # how long e stays frozen: the fault itself, not a synchronisation
kill -CONT "$PID_e"
wait_exit "$PID_b" 60
grep -q "draining: moves done: 300 of 300 actors moved" "$DIR/b.out" ||
    fail "the drained node did not move every actor"
wait_line "$DIR/c.out" '^ok c [0-9]+$' 60
grep -E 'lost|may not have arrived|failed' "$DIR"/*.out &&
    fail "something was lost"

# 2: a fresh target; e is killed as it drains
start b2 --join "$ADDR_a" $opts "$here/drain.lua" target 300 second-
wait_line "$DIR/b2.out" '^ready$' 30
kill -9 "$PID_e"
kill -TERM "$PID_b2"
wait_exit "$PID_b2" 60
grep -q "draining: moves done: 300 of 300 actors moved" "$DIR/b2.out" ||
    fail "the drained node did not move every actor past the killed one"
start f --join "$ADDR_a" $opts "$here/drain.lua" names second- "$ADDR_b2"
wait_exit "$PID_f" 60
kill -INT "$PID_a" "$PID_c"
wait_exit "$PID_a" 20
wait_exit "$PID_c" 20
echo "cluster.drain_fault: ok"

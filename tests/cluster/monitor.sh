#!/bin/sh
# cluster.monitor: monitors across nodes (stage.monitor, on_node_down,
# on_node_up). A watcher node W sees a serving node T come up; its monitor
# of an actor of T hears it stop ("normal"), of one that has stopped or
# never was ActorNotFound; a watcher that stops first gets no DOWN. A
# third node X watches an actor of T and stops: T drops X's watch. T is
# killed with SIGKILL: W's monitor says NodeDown once W gives T up, and
# W sees T go down. T starts again at its address (up again), is watched
# again, is killed and started at once: W learns the old incarnation is
# gone from the new one's handshake (NodeDown, down, up).
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 2 --lease 1 --period 0.2"
export STAGE_LOG=debug
start w $opts "$here/monitor.lua" watch
wait_line "$DIR/w.out" '^watching nodes$'
start t --join "$ADDR_w" $opts "$here/monitor.lua" serve
wait_line "$DIR/t.out" '^ready serve$'
wait_line "$DIR/w.out" "^node up $ADDR_t\$"
wait_line "$DIR/w.out" '^watching m1 m2$'
wait_line "$DIR/w.out" '^down m1 normal$'
wait_line "$DIR/w.out" '^down m1again ActorNotFound: .*not found'
wait_line "$DIR/w.out" '^down ghost ActorNotFound: .*not found'
wait_line "$DIR/w.out" '^w2 checked$'
grep -q 'found it gone' "$DIR/w.out" &&
    fail "a DOWN came for the monitor of a watcher that had stopped"
grep -q '^down m4' "$DIR/w.out" && fail "a stopped watcher's monitor fired"

start x --join "$ADDR_w" $opts "$here/monitor.lua" leave
wait_line "$DIR/x.out" '^leaver watching$'
kill -TERM "$PID_x"
wait_exit "$PID_x" 10
wait_line "$DIR/t.out" "dropped 1 watch for monitors of node '$ADDR_x'" 10

kill -9 "$PID_t"
wait_line "$DIR/w.out" "^down m2 NodeDown: .*$ADDR_t" 60
wait_line "$DIR/w.out" "^node down $ADDR_t\$" 10
grep -q '^down m3' "$DIR/w.out" && fail "W never watched m3"

"$STAGE" node --listen "$ADDR_t" --join "$ADDR_w" $opts \
    "$here/monitor.lua" serve > "$DIR/t2.out" 2>&1 &
PIDS="$PIDS $!"
t2=$!
wait_line "$DIR/t2.out" '^ready serve$' 30
wait_line "$DIR/w.out" '^watching m2 again$' 30
[ "$(grep -c "^node up $ADDR_t\$" "$DIR/w.out")" -eq 2 ] ||
    fail "W did not see T come up again"
kill -9 "$t2"
wait "$t2" 2>/dev/null # its port is free once it is gone
"$STAGE" node --listen "$ADDR_t" --join "$ADDR_w" $opts \
    "$here/monitor.lua" serve > "$DIR/t3.out" 2>&1 &
PIDS="$PIDS $!"
wait_line "$DIR/w.out" "^down m2b NodeDown: .*$ADDR_t" 30
wait_line "$DIR/t3.out" '^ready serve$' 30
n=0
until [ "$(grep -c "^node up $ADDR_t\$" "$DIR/w.out")" -eq 3 ]; do
    n=$((n + 1))
    [ "$n" -gt 200 ] && fail "W did not see T's third incarnation come up"
    sleep 0.05 # polling a file for an event, with a deadline
done
[ "$(grep -c "^node down $ADDR_t\$" "$DIR/w.out")" -eq 2 ] ||
    fail "W did not see T's second incarnation go down"
echo "cluster.monitor: ok"

#!/bin/sh
# cluster.leave: a node stopped with SIGINT takes its names and its type
# registrations out of the DHT before it leaves (the lease is 30 s here:
# only the node's own release can end them within the watcher's 10 s).
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 1 --lease 30 --period 0.2"
start seed $opts
start c --join "$ADDR_seed" $opts "$here/serve.lua" area-c
wait_line "$DIR/c.out" '^ready area-c$'
# b claims its name while the watcher joins the ring
start b --join "$ADDR_seed" $opts "$here/serve.lua" area-b
"$STAGE" node --join "$ADDR_c" $opts "$here/leave.lua" > "$DIR/watch.out" 2>&1 &
watcher=$!
PIDS="$PIDS $watcher"
wait_line "$DIR/b.out" '^ready area-b$'
wait_line "$DIR/watch.out" '^phase1 ok$' 30
kill -INT "$PID_b" # at once: a drain (SIGTERM) would move its Area, name and all
wait "$PID_b" || fail "the stopped node exited with status $?"
wait "$watcher" || fail "the watcher failed"
grep -q '^ok$' "$DIR/watch.out" || fail "the watcher did not finish"
# every removal it sent (a name, three types) was confirmed before it left
grep -q 'unconfirmed' "$DIR/b.out" && fail "the stopped node left removals behind"
# the others stop together: each says goodbye while the others shut down
kill -TERM "$PID_seed" "$PID_c"
wait_exit "$PID_seed" 10
wait_exit "$PID_c" 10
echo "cluster.leave: ok"

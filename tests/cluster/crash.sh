#!/bin/sh
# cluster.crash: five nodes; the node holding 'area-b' is killed with
# SIGKILL. Messages to it fail, the others keep answering, and its name
# disappears within the lease (1 s here).
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 1 --lease 1 --period 0.2"
start seed $opts
start a --join "$ADDR_seed" $opts "$here/serve.lua" area-a
start b --join "$ADDR_seed" $opts "$here/serve.lua" area-b
start c --join "$ADDR_a" $opts
wait_line "$DIR/a.out" '^ready area-a$'
wait_line "$DIR/b.out" '^ready area-b$'
"$STAGE" node --join "$ADDR_c" $opts "$here/watch.lua" > "$DIR/watch.out" 2>&1 &
watcher=$!
PIDS="$PIDS $watcher"
wait_line "$DIR/watch.out" '^phase1 ok$'
kill -9 "$PID_b"
wait "$watcher" || fail "the watcher failed"
grep -q '^ok$' "$DIR/watch.out" || fail "the watcher did not finish"
echo "cluster.crash: ok"

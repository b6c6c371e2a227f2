#!/bin/sh
# cluster.limits: a message, a reply or a spawn argument too large fails
# its sender's future with TooLarge at once, whichever node finds it: the
# server takes at most 100000 bytes (--max-message), the caller 400000.
# A one-way message too large for the server is logged there with the
# actor's id. A node whose frames may be larger than the server's (its
# --max-message past 8 MiB) fails what the server could not read where it
# is sent. tests/cluster/limits.lua does the calls.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
start server --theatres 2 --max-message 100000 "$here/limits.lua" serve
wait_line "$DIR/server.out" '^ready$'
timeout 60 "$STAGE" node --join "$ADDR_server" --theatres 2 \
    --max-message 400000 "$here/limits.lua" call "$ADDR_server" 100000 \
    > "$DIR/caller.out" 2>&1 || fail "the caller failed"
grep -q '^ok$' "$DIR/caller.out" || fail "the caller did not finish"
wait_line "$DIR/server.out" \
    "^stage: warn: from '[^']+': a message to actor '[^']+/Big/[0-9]+' is too large: its arguments are 100006 bytes, over the limit of 100000 bytes of node '$ADDR_server' \\(--max-message\\); not delivered\$" 5
grep -q "^stage: warn: the reply of actor '[^']*/Big/[0-9]*' is too large: over the limit of 100000 bytes (--max-message); its caller gets TooLarge\$" \
    "$DIR/server.out" || fail "the reply too large was not logged with its actor"
# a node that takes frames larger than the server's (8 MiB): what would
# not fit the server's fails at once where it is sent; and so it does with
# the server stopped, its frames held there. The node's standard input
# says when the server is stopped.
mkfifo "$DIR/frames.in"
timeout 60 "$STAGE" node --join "$ADDR_server" --theatres 2 \
    --max-message 20000000 --node-timeout 60 "$here/limits.lua" frames \
    "$ADDR_server" < "$DIR/frames.in" > "$DIR/frames.out" 2>&1 &
pid=$!
PIDS="$PIDS $pid"
exec 3> "$DIR/frames.in"
wait_line "$DIR/frames.out" '^stall$' 30
kill -STOP "$PID_server"
echo stopped >&3
wait_line "$DIR/frames.out" '^resume$' 30
kill -CONT "$PID_server"
exec 3>&-
wait_exit "$pid" 60
grep -q '^ok$' "$DIR/frames.out" || fail "the frames node did not finish"
echo "cluster.limits: ok"

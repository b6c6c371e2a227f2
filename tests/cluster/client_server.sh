#!/bin/sh
# cluster.client_server: examples/nodes/server.lua and client.lua (thesis
# Listings 6.3, 6.4): the one-line client on its own node finds the server
# on another by name; the server prints the message, the client exits 0.
. "$(dirname "$0")/lib.sh"
ex=$(dirname "$0")/../../examples/nodes
start seed --theatres 1
start server --join "$ADDR_seed" --theatres 1 "$ex/server.lua"
wait_line "$DIR/server.out" '^server ready$'
"$STAGE" node --join "$ADDR_seed" --theatres 1 "$ex/client.lua" \
    > "$DIR/client.out" 2>&1 || fail "the client failed"
wait_line "$DIR/server.out" '^Received message: Hello my friend!$' 5
[ "$(grep -c '^Received message' "$DIR/server.out")" = 1 ] ||
    fail "the server received the message more than once"
echo "cluster.client_server: ok"

#!/bin/sh
# cluster.drain: SIGTERM to a node with peers moves its 1,000 actors to the
# other nodes and only then leaves (exit 0, progress lines; one actor
# that cannot travel stays, named with the reason), while two
# senders on other nodes send numbered messages to every one of them
# through their first references, before, during and after the drain:
# every message arrives once, in order (each Counter checks), and every
# call is answered. Then a rolling restart's next step: the drained node
# starts again at its address, and the node of one sender drains in turn,
# the Counters it had taken over moving once more: the other sender's
# first references and the names still reach every one, state intact.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 2 --period 0.2"
start a $opts "$here/drain.lua" idle
start b --join "$ADDR_a" $opts "$here/drain.lua" target 1000 "" keeper
wait_line "$DIR/b.out" '^ready$' 30
start c --join "$ADDR_a" $opts "$here/drain.lua" send "$ADDR_b" c
mkdir -p "$DIR/d.files"
start d --join "$ADDR_a" $opts --files "$DIR/d.files" "$here/drain.lua" \
    send "$ADDR_b" d
wait_line "$DIR/c.out" '^flooding c$' 30
wait_line "$DIR/d.out" '^flooding d$' 30
kill -TERM "$PID_b"
wait_exit "$PID_b" 60
grep -q "draining: moves done: 1000 of 1001 actors moved, .*, 1 stay" \
    "$DIR/b.out" || fail "the drained node did not move every actor"
# the one that cannot travel is named, and why
grep -q "stays and stops with this node: cannot move actor '[^']*/Keeper/[0-9]*': self.f is a function" \
    "$DIR/b.out" || fail "the Keeper's line: $(grep 'stays' "$DIR/b.out")"
wait_line "$DIR/c.out" '^ok c [0-9]+$' 60
wait_line "$DIR/d.out" '^ok d [0-9]+$' 60
grep -E 'lost|may not have arrived|failed' "$DIR"/*.out &&
    fail "something was lost"
# b again, at its address; then c drains: what it took over moves on
start b2 --listen "$ADDR_b" --join "$ADDR_a" $opts "$here/drain.lua" idle
kill -TERM "$PID_c"
wait_exit "$PID_c" 60
grep -Eq "draining: moves done: ([0-9]+) of \1 actors moved" "$DIR/c.out" ||
    fail "c did not move every actor it had"
touch "$DIR/d.files/again"
wait_line "$DIR/d.out" '^again ok d$' 60
grep -E 'lost|may not have arrived|failed' "$DIR"/*.out &&
    fail "something was lost"
# the rest stop at once (SIGINT: no drain)
kill -INT "$PID_a" "$PID_b2" "$PID_d"
wait_exit "$PID_a" 20
wait_exit "$PID_b2" 20
wait_exit "$PID_d" 20
echo "cluster.drain: ok"

#!/bin/sh
# cluster.orphan_drained: an actor drained from its birth node b to x (x
# makes it its own: b's id -> x's in the migrations store), then moved on
# from x to y, survives x's death (SIGKILL), and b's id still reaches it
# once x's entries are gone with x: y takes it over and puts every id that
# led to it into the store (x's, and b's, which came with the move). A
# sender of b's id that never used it before finds it at y, with its state
# and its messages in order. s and r carry ballast, so that the drain
# sends the actor to x; s moves it on, r reaches it.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 2 --period 0.2"
start b $opts "$here/drain.lua" spawn
start x --join "$ADDR_b" $opts "$here/drain.lua" idle
mkdir -p "$DIR/s.files" "$DIR/r.files"
start s --join "$ADDR_b" $opts --files "$DIR/s.files" "$here/drain.lua" ballast
start r --join "$ADDR_b" $opts --files "$DIR/r.files" "$here/drain.lua" ballast
wait_line "$DIR/b.out" '^spawned ' 30
id=$(sed -n 's/^spawned //p' "$DIR/b.out")
kill -TERM "$PID_b"
wait_exit "$PID_b" 60
grep -q "draining: moves done: 1 of 1 actors moved" "$DIR/b.out" ||
    fail "the drained node did not move its actor"
start y --join "$ADDR_x" $opts "$here/drain.lua" idle
echo "hop $id $ADDR_x $ADDR_y" >"$DIR/s.files/go.tmp"
mv "$DIR/s.files/go.tmp" "$DIR/s.files/go"
wait_line "$DIR/s.out" '^hopped from ' 30
kill -9 "$PID_x"
echo "reach $id $ADDR_x" >"$DIR/r.files/go.tmp"
mv "$DIR/r.files/go.tmp" "$DIR/r.files/go"
wait_exit "$PID_r" 60
grep -q '^ok after' "$DIR/r.out" || fail "no check"
kill -INT "$PID_s" "$PID_y"
wait_exit "$PID_s" 20
wait_exit "$PID_y" 20
echo "cluster.orphan_drained: ok"

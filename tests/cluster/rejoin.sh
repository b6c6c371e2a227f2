#!/bin/sh
# cluster.rejoin: nodes join a seed one after another, each after the one
# before has left: the seed, alone again each time, must take every new
# node as its successor (a two-node ring), so each joins in well under the
# 10 s after which `stage node` gives up waiting, and finds its own name.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 1 --period 0.2"
start seed $opts
for i in 1 2 3; do
    "$STAGE" node --join "$ADDR_seed" $opts "$here/rejoin.lua" "r$i" \
        > "$DIR/r$i.out" 2>&1 || fail "client $i failed"
    grep -q "^ok r$i\$" "$DIR/r$i.out" || fail "client $i did not finish"
    grep -q "not joined" "$DIR/r$i.out" && fail "client $i did not join"
done
echo "cluster.rejoin: ok"

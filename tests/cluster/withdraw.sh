#!/bin/sh
# cluster.withdraw: four nodes, leases of 30 s. The node naming 'area-b'
# is killed with SIGKILL: the node that finds it dead tells the others
# (NODE_DOWN), and the dead node's name and type registration are gone
# from the directory within seconds everywhere, not after the lease. The
# watching node sees NodeDown, then the name and the type go.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 1 --lease 30 --period 0.2"
start seed $opts
start a --join "$ADDR_seed" $opts "$here/serve.lua" area-a
start b --join "$ADDR_seed" $opts "$here/serve.lua" area-b
wait_line "$DIR/a.out" '^ready area-a$'
wait_line "$DIR/b.out" '^ready area-b$'
"$STAGE" node --join "$ADDR_seed" $opts "$here/withdraw.lua" > "$DIR/w.out" 2>&1 &
watcher=$!
PIDS="$PIDS $watcher"
wait_line "$DIR/w.out" '^seen$' 30
kill -9 "$PID_b"
wait "$watcher" || fail "the watcher failed"
line=$(grep '^gone ' "$DIR/w.out") || fail "the watcher did not finish"
echo "cluster.withdraw: $line (s after the first NodeDown; lease 30 s)"
# every node that was up heard of it: its own detector or the news
for n in seed a; do
    grep -Eq "node '$ADDR_b' \(incarnation [0-9a-f]+\) is (down|dead)" \
        "$DIR/$n.out" || fail "node $n never learnt that b died"
done
set -- $line
awk -v n="$3" -v t="$5" 'BEGIN { exit !(n < 10 && t < 10) }' ||
    fail "name or type took 10 s or more to go: $line"
echo "cluster.withdraw: ok"

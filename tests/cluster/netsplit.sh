#!/bin/sh
# cluster.netsplit: two nodes in their own network namespaces, joined by a
# veth pair whose link the test cuts (root and `ip` needed: skipped,
# with the reason, otherwise).
#  1. The link is down 3 s, under the 5 s node timeout, while a feeder on A
#     sends the Sink on B a one-way put(i) and a call every 50 ms: every
#     put arrives once, in order, every call succeeds, nothing is
#     declared dead.
#  2. The link is down 6 s with a 2 s node timeout between two idle
#     nodes: each declares the other dead. After the heal the first
#     contact (the DHT merging its two rings) settles who yields: with
#     one live session each, the node with the larger address stops
#     with status 1, saying who declared it dead; the other runs on.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null 2>&1; then
    echo "cluster.netsplit: skipped: needs root and ip (network namespaces)"
    exit 77
fi
na=stage_t_a_$$ nb=stage_t_b_$$ va=stva$$ vb=stvb$$
netns_cleanup() {
    cleanup
    ip netns del "$na" 2>/dev/null
    ip netns del "$nb" 2>/dev/null
}
trap netns_cleanup EXIT INT TERM
ip netns add "$na" && ip netns add "$nb" &&
    ip link add "$va" type veth peer name "$vb" &&
    ip link set "$va" netns "$na" && ip link set "$vb" netns "$nb" &&
    ip -n "$na" addr add 10.79.0.1/24 dev "$va" &&
    ip -n "$nb" addr add 10.79.0.2/24 dev "$vb" &&
    ip -n "$na" link set "$va" up && ip -n "$nb" link set "$vb" up &&
    ip -n "$na" link set lo up && ip -n "$nb" link set lo up || {
    echo "cluster.netsplit: skipped: cannot make network namespaces here"
    exit 77
}

# The nodes listen on the veth addresses, not loopback: they need a
# cluster key (docs/security.md), one for all.
"$STAGE" keygen "$DIR/cluster.key" 2>/dev/null || fail "stage keygen failed"

# in NS: run `stage node ARGS` in namespace NS as NAME, output in DIR/NAME.out
in_ns() {
    ns=$1 name=$2
    shift 2
    ip netns exec "$ns" "$STAGE" node --cluster-key "$DIR/cluster.key" "$@" \
        > "$DIR/$name.out" 2>&1 &
    eval "PID_$name=$!"
    PIDS="$PIDS $!"
}

in_ns "$nb" k --listen 10.79.0.2:7000 --theatres 1 --node-timeout 5 \
    "$here/sink.lua" sink
wait_line "$DIR/k.out" '^ready sink$'
in_ns "$na" a --listen 10.79.0.1:7000 --join 10.79.0.2:7000 --theatres 1 \
    --node-timeout 5 "$here/feeder.lua" sink 160
wait_line "$DIR/a.out" '^sent 20$'
ip -n "$na" link set "$va" down
wait_line "$DIR/a.out" '^sent 80$' 30 # 60 rounds of 50 ms: 3 s or more
ip -n "$na" link set "$va" up
wait_exit "$PID_a" 60
grep -q '^report 160 0$' "$DIR/a.out" ||
    fail "the sink did not get puts 1..160 once each, in order"
grep -Eq 'declared dead|\(incarnation [0-9a-f]+\) is down' "$DIR/a.out" "$DIR/k.out" &&
    fail "a cut shorter than the node timeout declared a node dead"
kill "$PID_k"
wait "$PID_k"
echo "cluster.netsplit: a 3 s cut lost nothing"

export STAGE_LOG=debug # the session's start is a debug line
in_ns "$nb" q --listen 10.79.0.2:7001 --theatres 1 --node-timeout 2
wait_line "$DIR/q.out" "listening"
in_ns "$na" p --listen 10.79.0.1:7001 --join 10.79.0.2:7001 --theatres 1 \
    --node-timeout 2
wait_line "$DIR/p.out" "joined the ring"
ip -n "$na" link set "$va" down
wait_line "$DIR/p.out" "'10.79.0.2:7001' \(incarnation [0-9a-f]+\) is down" 20
wait_line "$DIR/q.out" "'10.79.0.1:7001' \(incarnation [0-9a-f]+\) is down" 20
ip -n "$na" link set "$va" up
# the larger address, 10.79.0.2, yields once the two meet again
wait_line "$DIR/q.out" "was declared dead by '10.79.0.1:7001'.*stopping" 90
n=0
while kill -0 "$PID_q" 2>/dev/null; do
    n=$((n + 1))
    [ "$n" -gt 200 ] && fail "q said it stops but runs on"
    sleep 0.05 # polling a process for its exit, with a deadline
done
wait "$PID_q"
[ $? -eq 1 ] || fail "q did not exit with status 1"
kill -0 "$PID_p" || fail "p, the smaller address, stopped too"
echo "cluster.netsplit: ok"

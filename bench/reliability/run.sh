#!/bin/sh
# bench/reliability/run.sh BUILD_DIR: what the links between nodes keep and
# how fast a dead node is known (issue 10, "Measured"). Real `stage node`s;
# prints one JSON line per figure ({"bench","impl","value","unit","better"},
# as bench/run.sh does), also kept in BUILD_DIR/bench/reliability/.
#
#   stall_lost/dup/late    a client sends one one-way put(i) and one call
#                          every 20 ms to a named actor on node K for 15 s;
#                          K is stopped (SIGSTOP) for 5 s in the middle:
#                          messages lost, duplicated, out of order, and
#                          calls that failed (loopback)
#   linkdown_lost/dup/...  the same with K in another network namespace
#                          and the veth link between them down for 5 s
#                          (needs root and `ip`; skipped otherwise)
#   kill_nodedown_p50/p99  8 nodes; 7 watchers call an actor of the 8th
#                          every 10 ms; it is killed (SIGKILL): ms from the
#                          kill to each watcher's first failure (its typed
#                          error is checked to be NodeDown), over KILL_RUNS
#                          runs (3)
#
# Environment: KILL_RUNS (3), STALL_S (5), PORT_BASE (21600).
set -u
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
stage=$build/src/cli/stage
out=$build/bench/reliability
kill_runs=${KILL_RUNS:-3}
stall=${STALL_S:-5}
base=${PORT_BASE:-21600}
mkdir -p "$out"
results=$out/results.jsonl
: >"$results"
PIDS=""
NETNS=""

cleanup() {
    for p in $PIDS; do kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    for n in $NETNS; do ip netns del "$n" 2>/dev/null; done
}
trap cleanup EXIT INT TERM

die() { echo "bench/reliability: $*" >&2; exit 1; }

emit() { # bench value unit better
    echo "{\"bench\":\"$1\",\"impl\":\"stage\",\"value\":$2,\"unit\":\"$3\",\"better\":\"$4\"}" |
        tee -a "$results"
}

# wait_line FILE REGEX SECS: wait for a line (polling a file, with a deadline).
wait_line() {
    n=0
    until grep -Eq "$2" "$1" 2>/dev/null; do
        n=$((n + 1))
        [ "$n" -gt $(($3 * 20)) ] && { tail -n 20 "$1" >&2; die "no /$2/ in $1 after $3 s"; }
        sleep 0.05
    done
}

now() { python3 -c 'import time; print("%.6f" % time.monotonic())'; }

# The JSON line of the source in file $1 -> figures named $2_*.
report() {
    line=$(grep '^{"sent"' "$1") || die "no report in $1"
    echo "$line" >"$out/$2.json"
    for k in lost dup late; do
        v=$(echo "$line" | sed "s/.*\"$k\":\([0-9]*\).*/\1/")
        emit "${2}_$k" "$v" msgs lower
    done
    ok=$(echo "$line" | sed 's/.*"calls_ok":\([0-9]*\).*/\1/')
    sent=$(echo "$line" | sed 's/.*"sent":\([0-9]*\).*/\1/')
    emit "${2}_calls_failed" $((sent - ok)) calls lower
}

# stall: K stopped for $stall s while the source sends.
stall_run() {
    "$stage" node --listen 127.0.0.1:$base "$here/sink.lua" >"$out/k.out" 2>&1 &
    k=$!
    PIDS="$PIDS $k"
    wait_line "$out/k.out" '^ready$' 10
    "$stage" node --listen 127.0.0.1:$((base + 1)) --join 127.0.0.1:$base \
        "$here/source.lua" 750 0.02 >"$out/a.out" 2>&1 &
    a=$!
    PIDS="$PIDS $a"
    wait_line "$out/a.out" '^sending$' 30
    sleep 3 # the experiment's timing: 3 s of traffic first
    kill -STOP "$k"
    sleep "$stall"
    kill -CONT "$k"
    wait "$a" || die "the source failed: $(tail -n 5 "$out/a.out")"
    report "$out/a.out" stall
    grep -i "dead\|lost" "$out/a.out" "$out/k.out" >&2
    kill "$k" 2>/dev/null
    wait "$k" 2>/dev/null
}

# linkdown: K in namespace stage_b, the source in stage_a, veth between.
linkdown_run() {
    if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null 2>&1; then
        echo "bench/reliability: linkdown skipped (needs root and ip)" >&2
        return
    fi
    ip netns add stage_a && NETNS="$NETNS stage_a" || return
    ip netns add stage_b && NETNS="$NETNS stage_b" || return
    ip link add stage_va type veth peer name stage_vb
    ip link set stage_va netns stage_a
    ip link set stage_vb netns stage_b
    ip -n stage_a addr add 10.77.0.1/24 dev stage_va
    ip -n stage_b addr add 10.77.0.2/24 dev stage_vb
    ip -n stage_a link set stage_va up
    ip -n stage_b link set stage_vb up
    ip -n stage_a link set lo up
    ip -n stage_b link set lo up
    ip netns exec stage_b "$stage" node --listen 10.77.0.2:$base \
        "$here/sink.lua" >"$out/kn.out" 2>&1 &
    PIDS="$PIDS $!"
    wait_line "$out/kn.out" '^ready$' 10
    ip netns exec stage_a "$stage" node --listen 10.77.0.1:$base \
        --join 10.77.0.2:$base "$here/source.lua" 750 0.02 >"$out/an.out" 2>&1 &
    a=$!
    PIDS="$PIDS $a"
    wait_line "$out/an.out" '^sending$' 30
    sleep 3
    ip -n stage_a link set stage_va down
    sleep "$stall"
    ip -n stage_a link set stage_va up
    wait "$a" || die "the source failed: $(tail -n 5 "$out/an.out")"
    report "$out/an.out" linkdown
}

# kill: 8 nodes, the victim killed, ms to each watcher's first failure.
kill_run() {
    r=$1
    p=$((base + 10))
    "$stage" node --listen 127.0.0.1:$p "$here/sink.lua" >"$out/v.out" 2>&1 &
    v=$!
    PIDS="$PIDS $v"
    wait_line "$out/v.out" '^ready$' 10
    ws=""
    for i in 1 2 3 4 5 6 7; do
        "$stage" node --listen 127.0.0.1:$((p + i)) --join 127.0.0.1:$p \
            "$here/watcher.lua" sink >"$out/w$i.out" 2>&1 &
        ws="$ws $!"
        PIDS="$PIDS $!"
    done
    for i in 1 2 3 4 5 6 7; do wait_line "$out/w$i.out" '^watching$' 30; done
    t0=$(now)
    kill -9 "$v"
    for w in $ws; do wait "$w"; done
    for i in 1 2 3 4 5 6 7; do
        line=$(grep '^down ' "$out/w$i.out") || die "watcher $i saw no failure"
        set -- $line
        [ "$3" = NodeDown ] || echo "bench/reliability: watcher $i failed with $3, not NodeDown" >&2
        echo "$2 $t0" | awk '{ printf "%.1f\n", ($1 - $2) * 1000 }' >>"$out/kill_ms"
        echo "$3" >>"$out/kill_kinds"
    done
}

stall_run
linkdown_run
: >"$out/kill_ms"
: >"$out/kill_kinds"
for r in $(seq "$kill_runs"); do kill_run "$r"; done
sort -n "$out/kill_ms" | awk '{ v[NR] = $1 } END {
    p50 = v[int((NR + 1) * 0.5)]; i99 = int(NR * 0.99 + 0.999); if (i99 < 1) i99 = 1
    printf "%s %s\n", p50, v[i99] }' >"$out/kill_q"
read p50 p99 <"$out/kill_q"
emit kill_nodedown_p50 "$p50" ms lower
emit kill_nodedown_p99 "$p99" ms lower
echo "failures seen by the watchers: $(sort "$out/kill_kinds" | uniq -c | tr '\n' ' ')" >&2

#!/bin/sh
# bench/dht/run.sh BUILD_DIR [SEED]: the DHT's figures from the simulator,
# each beside its target (issue 3). Runs the 1,000 and 10,000 node cases
# that are too large for CI, then one manager under load (bench_dht_load).
# Needs BUILD_DIR/tests/sim/sim_driver (or the stage command's `stage
# sim`). Prints one line per figure and exits 1 if a target is missed.
set -u
build=${1:?usage: bench/dht/run.sh BUILD_DIR [SEED]}
seed=${2:-1}
sim="$build/tests/sim/sim_driver"
[ -x "$sim" ] || { echo "run.sh: no simulator at '$sim'" >&2; exit 2; }
missed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# run NAME ARGS...: run the simulator, keep its summary line in $out
run() {
    name=$1; shift
    start=$(date +%s.%N)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f %U -o "$out.cpu" "$sim" --seed "$seed" "$@" > "$out.full" 2>/dev/null
        cpu=$(cat "$out.cpu"); rm -f "$out.cpu"
    else
        "$sim" --seed "$seed" "$@" > "$out.full" 2>/dev/null
        cpu=?
    fi
    end=$(date +%s.%N)
    grep '"event":"summary"' "$out.full" > "$out"
    wall=$(echo "$end $start" | awk '{printf "%.1f", $1 - $2}')
    echo "== $name (seed $seed; $wall s wall, $cpu s cpu): stage sim --seed $seed $*"
    rm -f "$out.full"
}

# fig KEY: a figure of the last summary
fig() {
    sed 's/.*"'"$1"'":\([^,}]*\).*/\1/' "$out"
}

# check KEY OP TARGET [LABEL]: print the figure beside its target
check() {
    v=$(fig "$1")
    ok=$(awk -v v="$v" -v t="$3" -v op="$2" 'BEGIN {
        if (op == "<=") print (v <= t) ? 1 : 0; else print (v >= t) ? 1 : 0 }')
    mark=ok; [ "$ok" = 1 ] || { mark=MISSED; missed=1; }
    printf '  %-30s %12s   target %s %s   %s\n' "${4:-$1}" "$v" "$2" "$3" "$mark"
}

report() {
    printf '  %-30s %12s\n' "$1" "$(fig "$1")"
}

for n in 1000 10000; do
    half=$(awk -v n=$n 'BEGIN { printf "%.3f", 0.5 * log(n) / log(2) + 1 }')
    lg=$(awk -v n=$n 'BEGIN { printf "%.3f", log(n) / log(2) }')
    if [ $n = 1000 ]; then
        run "no faults, $n nodes" --nodes $n --join 30 --settle 30 --duration 120 --lookup-rate 500
    else
        run "no faults, $n nodes, 10 simulated minutes" --nodes $n --join 120 --settle 60 --duration 420 --lookup-rate 1000
        check sim_s ">=" 600 "simulated seconds"
        # the target is for this machine alone; when it is shared the CPU
        # time is the fairer measure, so that is what is checked
        t=$wall; [ "$cpu" = "?" ] || t=$cpu
        printf '  %-30s %12s   target <= 120   %s\n' "seconds (cpu if known)" "$t" \
            "$(awk -v w=$t 'BEGIN { print (w <= 120) ? "ok" : "MISSED" }')"
        printf '  %-30s %12s\n' "wall seconds" "$wall"
        awk -v w=$t 'BEGIN { exit !(w > 120) }' && missed=1
    fi
    check mean_hops "<=" "$half"
    check p99_hops "<=" "$lg"
    check lookup_success ">=" 1
    check route_correct ">=" 1
    check claims_ok ">=" 1
    report keys_per_node_max_over_mean
    report keys_per_node_p99_over_mean
    report bytes_per_node_per_s
done

# Balance needs many keys per node to measure ranges rather than noise.
for v in 1 8 16; do
    run "balance, $v virtual ids per node, 1000 nodes, 20 names each" --nodes 1000 --vnodes $v --entries 20 --join 30 --settle 30 --duration 30 --lookup-rate 200
    report keys_per_node_max_over_mean
    report keys_per_node_p99_over_mean
    check lookup_success ">=" 1
done

# An entry is lost when all R of its replicas are among the crashed half:
# with every entry on R distinct nodes that is 0.5^R = 0.125 on average,
# so one run is above it about half the time, however good the DHT. Ten
# seeds, and their mean checked against 0.125 plus two standard errors
# (binomial, over every entry of the ten runs).
lost=""
for k in 0 1 2 3 4 5 6 7 8 9; do
    s0=$seed; seed=$((s0 + k))
    run "mass failure: 50% of 1000 nodes at once" --nodes 1000 --mass-fail 0.5 --mass-at 20 --duration 60
    seed=$s0
    lost="$lost $(fig entries_lost_fraction)"
    if [ $k = 0 ]; then
        check mass_check_failures "<=" 0 "lookups failed after 3 periods"
        report mass_checked
    fi
done
bound=$(awk 'BEGIN { printf "%.4f", 0.125 + 2 * sqrt(0.125 * 0.875 / 15000) }')
mean=$(echo "$lost" | awk '{ for (i = 1; i <= NF; i++) s += $i; printf "%.4f", s / NF }')
printf '  %-30s %12s   target <= %s   %s   (runs:%s)\n' "entries lost, mean of 10" "$mean" \
    "$bound" "$(awk -v m=$mean -v b=$bound 'BEGIN { print (m <= b) ? "ok" : "MISSED" }')" "$lost"
awk -v m=$mean -v b=$bound 'BEGIN { exit !(m > b) }' && missed=1

run "failures spaced 20 s apart, 1000 nodes" --nodes 1000 --spaced-fail 20 --duration 300
check entries_lost_fraction "<=" 0 "entries lost"
check lookup_success ">=" 0.99

for median in 3600 300; do
    run "churn, median session $median s, 1000 nodes" --nodes 1000 --churn-median $median --duration 600 --lookup-rate 200
    check lookup_success ">=" 0.99
    check stale_entries "<=" 0 "entries outliving their owner"
    printf '  %-30s %12s   (all traffic, with 200 lookups/s)\n' bytes_per_node_per_s "$(fig bytes_per_node_per_s)"
    run "maintenance only (no lookups), churn $median s, 1000 nodes" --nodes 1000 --churn-median $median --duration 600 --lookup-rate 0
    check bytes_per_node_per_s "<=" 1024 "maintenance bytes/s per node"
    report msgs_per_node_per_s
done

run "claim races: 10 claimants, 2% loss, crashes, 1000 nodes" --nodes 1000 --claimants 10 --loss 0.02 --crash-during-claims 0.002 --duration 300
check races_exactly_one ">=" "$(fig races)" "races with exactly one winner"
check failures "<=" 0 "two told they won"

# One manager with N requests under way at once (bench/dht/load.c): the
# CPU per message it receives should not grow with N. Its JSON lines, then
# the lookups' figure at 50,000 beside twice the one at 10,000 (at 1,000
# the run takes a few ms: too short to compare on a shared machine).
load="$build/bench/dht/bench_dht_load"
if [ -x "$load" ]; then
    echo "== one manager, N requests under way at once: $load 1000 10000 50000"
    "$load" 1000 10000 50000 > "$out.load" || missed=1
    sed 's/^/  /' "$out.load"
    us() {
        grep "\"op\":\"$1\",\"n\":$2," "$out.load" |
            sed 's/.*"us_per_input":\([^,}]*\).*/\1/'
    }
    small=$(us lookup 10000); large=$(us lookup 50000)
    ok=$(awk -v s="$small" -v l="$large" 'BEGIN { print (l != "" && l <= 2 * s) ? "ok" : "MISSED" }')
    printf '  %-30s %12s   target <= 2 x %s (at 10,000)   %s\n' \
        "lookup us/message at 50,000" "$large" "$small" "$ok"
    [ "$ok" = ok ] || missed=1
    rm -f "$out.load"
else
    echo "run.sh: no '$load': the load figures are left out" >&2
fi

exit $missed

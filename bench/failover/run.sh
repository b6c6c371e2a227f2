#!/bin/sh
# bench/failover/run.sh BUILD_DIR: failover of a named service (issue 10,
# point 3), with real `stage node` processes on loopback. Prints one JSON
# line per figure ({"bench","impl","value","unit","better"}, as
# bench/run.sh) and keeps them in BUILD_DIR/bench/failover/results.jsonl.
#
# A seed node, the service's node (service.lua: an actor named
# failover_svc) and CALLERS caller nodes (caller.lua: each calls who()
# through one find_name reference every 10 ms, each call awaited). Two
# experiments:
#
#   replace   the service stops its actor and names a new one, on the same
#             node, SWITCHES times GAP seconds apart
#   restart   the service's node is killed with SIGKILL and started again
#             at once at the same address with the same script, RESTARTS
#             times GAP seconds apart
#
# Figures, for each experiment (X = replace or restart), over every caller
# and every switch:
#   failover_X_failures_max    calls that failed between the old actor's
#                              last answer and the new one's first (the
#                              target: at most 1)
#   failover_X_stray_failures  calls that failed with the same actor
#                              answering before and after (should be 0)
#   failover_X_outage_p50/max  ms from the old actor's last answer to the
#                              new one's first (the loop's 10 ms included)
#   failover_X_served_max      ms from the stop (replace) or the kill
#                              (restart) to the first answer of the new
#                              actor (the target: under 1000)
#   failover_restart_ready_max ms from the restarted node's "ready" (its
#                              name claimed) to the first answer
#
# Environment: CALLERS (3), SWITCHES (5), RESTARTS (3), GAP (2 s),
# PORT (21400: the service's node listens there, below Linux's ephemeral
# range so that no outgoing connection holds it when it restarts), LOOKUP
# ("ref": each caller calls through one reference from find_name; "find":
# through a find_name per call, which the node's name cache answers).
set -u
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
stage=$build/src/cli/stage
out=$build/bench/failover
callers=${CALLERS:-3}
switches=${SWITCHES:-5}
restarts=${RESTARTS:-3}
gap=${GAP:-2}
port=${PORT:-21400}
lookup=${LOOKUP:-ref}
mkdir -p "$out"
results=$out/results.jsonl
: >"$results"
rm -f "$out"/*.out
PIDS=""

cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
}
trap cleanup EXIT INT TERM

emit() { # every line that looks like a result goes to the results too
    grep '^{"bench"' | tee -a "$results"
}

# wait_line FILE REGEX [SECS]: until FILE has a line matching REGEX.
wait_line() {
    _w=0
    until grep -Eq "$2" "$1" 2>/dev/null; do
        _w=$((_w + 1))
        if [ "$_w" -gt $((${3:-30} * 20)) ]; then
            echo "# no line /$2/ in $1 after ${3:-30} s" >&2
            return 1
        fi
        sleep 0.05
    done
}

# node NAME ARGS...: start `stage node ARGS` as NAME; sets ADDR and PID.
node() {
    _n=$1
    shift
    : >"$out/$_n.out"
    "$stage" node --theatres 1 "$@" >>"$out/$_n.out" 2>&1 &
    PID=$!
    PIDS="$PIDS $PID"
    wait_line "$out/$_n.out" \
        "^stage: info: node '[^']+' listening, manager " 10 || return 1
    ADDR=$(sed -n "s/^stage: info: node '\([^']*\)' listening, manager .*/\1/p" \
        "$out/$_n.out" | tail -n 1)
}

stop_all() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    PIDS=""
}

# The machine's monotonic clock (stage.now()'s), or nothing.
mono() {
    python3 -c 'import time; print("%.6f" % time.monotonic())' 2>/dev/null
}

# start_callers X SECS: CALLERS callers of experiment X for SECS seconds,
# joined to $seed.
start_callers() {
    i=1
    while [ "$i" -le "$callers" ]; do
        node "$1-caller$i" --join "$seed" "$here/caller.lua" failover_svc \
            "$2" "$i" "$lookup" || return 1
        i=$((i + 1))
    done
}

# wait_callers X SECS: until every caller of X has printed "done".
wait_callers() {
    i=1
    while [ "$i" -le "$callers" ]; do
        wait_line "$out/$1-caller$i.out" "^done $i\$" "$2" || return 1
        i=$((i + 1))
    done
}

# report X EVENTS: the figures of experiment X from the callers' lines and
# EVENTS, a file of "T" lines: when each switch began (monotonic seconds),
# and of "ready T" lines for restarts.
report() {
    cat "$out/$1"-caller*.out | grep '^{"caller"' >"$out/$1.lines"
    awk -v x="$1" -v events="$2" '
    function num(key,   s) { # the number after "key": in $0
        s = $0
        sub(".*\"" key "\":", "", s)
        sub("[,}].*", "", s)
        return s + 0
    }
    function line(name, v, unit) {
        printf "{\"bench\":\"failover_%s_%s\",\"impl\":\"stage\"," \
            "\"value\":%.1f,\"unit\":\"%s\",\"better\":\"lower\"}\n",
            x, name, v, unit
    }
    BEGIN {
        while ((getline l < events) > 0) {
            n = split(l, f, " ")
            if (f[1] == "ready") ready[++nr] = f[2]
            else if (n == 1) start[++ns] = f[1]
        }
    }
    {
        sw = num("switch"); fl = num("failures")
        if (sw == 0) { stray += fl; next }
        t = num("t_new")
        out[++no] = num("outage_ms")
        if (fl > fmax) fmax = fl
        s = 0; for (i = 1; i <= ns; i++) if (start[i] <= t) s = start[i]
        if (s && (t - s) * 1000 > smax) smax = (t - s) * 1000
        r = 0; for (i = 1; i <= nr; i++) if (ready[i] <= t) r = ready[i]
        if (r && (t - r) * 1000 > rmax) rmax = (t - r) * 1000
    }
    END {
        if (!no) {
            print "# failover " x ": no switch seen by any caller" \
                > "/dev/stderr"
            exit 1
        }
        for (i = 1; i <= no; i++) for (j = i + 1; j <= no; j++)
            if (out[j] < out[i]) { v = out[i]; out[i] = out[j]; out[j] = v }
        line("failures_max", fmax, "calls")
        line("stray_failures", stray, "calls")
        line("outage_p50", out[int((no + 1) / 2)], "ms")
        line("outage_max", out[no], "ms")
        if (ns) line("served_max", smax, "ms")
        if (nr) line("ready_max", rmax, "ms")
        printf "# failover %s: %d switches seen by %s callers\n", x, no,
            '"$callers"' > "/dev/stderr"
    }' "$out/$1.lines"
}

# ---- replace: stopped and named again on the same node --------------------

replace() {
    node replace-seed && seed=$ADDR || return 1
    node replace-service --join "$seed" "$here/service.lua" failover_svc \
        "$switches" 3 "$gap" &&
        wait_line "$out/replace-service.out" '^ready ' || return 1
    start_callers replace $((3 + switches * gap + 2)) || return 1
    wait_line "$out/replace-service.out" '^switches done$' \
        $((10 + switches * gap)) && wait_callers replace 30 || return 1
    sed -n 's/^switch [^ ]* [^ ]* \(.*\)$/\1/p' "$out/replace-service.out" \
        >"$out/replace.events"
    report replace "$out/replace.events" | emit
}

# ---- restart: killed and started again at its address ----------------------

restart() {
    node restart-seed && seed=$ADDR || return 1
    svc_args="--listen 127.0.0.1:$port --join $seed $here/service.lua"
    svc_args="$svc_args failover_svc"
    node restart-service0 $svc_args &&
        wait_line "$out/restart-service0.out" '^ready ' || return 1
    svc=$PID
    : >"$out/restart.events"
    start_callers restart $((2 + restarts * gap + 3)) || return 1
    k=1
    while [ "$k" -le "$restarts" ]; do
        sleep "$gap"
        t=$(mono)
        kill -9 "$svc"
        wait "$svc" 2>/dev/null # the port is free once it is gone
        [ -n "$t" ] && echo "$t" >>"$out/restart.events"
        node "restart-service$k" $svc_args || return 1
        svc=$PID
        wait_line "$out/restart-service$k.out" "^ready " || return 1
        sed -n 's/^ready [^ ]* \(.*\)$/ready \1/p' \
            "$out/restart-service$k.out" >>"$out/restart.events"
        k=$((k + 1))
    done
    wait_callers restart 30 || return 1
    report restart "$out/restart.events" | emit
}

status=0
replace || { echo "# failover replace: failed" >&2; status=1; }
stop_all
restart || { echo "# failover restart: failed" >&2; status=1; }
stop_all
exit $status

#!/bin/sh
# bench/net/run.sh BUILD_DIR: the benchmarks between nodes (issue 4,
# "Measured"), beside Erlang and raw TCP in the same run. Prints one JSON
# line per figure ({"bench","impl","value","unit","better"}, as bench/run.sh)
# and then a table with the ratios. Every node runs on loopback.
#
#   remote_rtt_p50/p99  a Lua actor awaiting a remote actor's reply in a
#                       loop, two `stage node`s; two Erlang nodes; raw TCP
#                       in C between two processes (raw_rtt.c), blocking
#                       (raw_tcp) and spinning on its reads (raw_tcp_poll)
#   remote_oneway       messages/s from one node to an actor on another
#   find_name_p50/p99   find_name + one ping, 8 nodes x 25 names
#   appa_bytes_N        thesis Appendix A (N = 2, 4, 6, 8 nodes, 10 names
#                       each, N lookups and pings per node): bytes on the
#                       wire from a packet capture (tcpdump, needs root),
#                       TCP payload (= frame bytes) and whole packets;
#   appa_*_ops_N        the same with the nodes joined and settled before
#                       the capture starts: the experiment's operations only
#   appa_counted_N      the bytes the Stage nodes say they wrote in the
#                       whole-run pass (stage.net_stats), against the
#                       capture's payload
#   cluster key         remote_rtt_p50/p99 and remote_oneway again, in
#                       KEY_ROUNDS rounds of a pair of runs, one without a
#                       key (impl "stage") then one with both nodes holding
#                       a cluster key (impl "stage_key"); the table ends
#                       with the medians of both and their ratio
#
# Environment: RTT_N (20000 round trips), FLOOD_M (1000000 messages),
# KEY_ROUNDS (1: rounds of the cluster-key pair; 0: none), KEY_ONLY (1:
# the cluster-key rounds only, nothing else),
# APPA_NODES ("2 4 6 8"; empty: skip), APPA_ONLY (1: Appendix A only, no
# round trips, throughput or find_name), APPA_ERLANG (0: no Erlang runs in
# Appendix A), APPA_SNAPLEN (128: bytes kept per captured packet; 0 keeps
# whole packets, for taking a capture apart), PORT_BASE (21300: the Appendix A nodes listen at
# PORT_BASE+i, Erlang's at PORT_BASE+100+i, its epmd at PORT_BASE+99; below
# Linux's ephemeral range, 32768-60999, so that no outgoing connection can
# hold one of them).
# Results are also kept in BUILD_DIR/bench/net/results.jsonl.
set -u
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
stage=$build/src/cli/stage
out=$build/bench/net
rtt_n=${RTT_N:-20000}
flood_m=${FLOOD_M:-1000000}
appa_nodes=${APPA_NODES-"2 4 6 8"}
appa_only=${APPA_ONLY:-0}
key_rounds=${KEY_ROUNDS:-1}
key_only=${KEY_ONLY:-0}
appa_erlang=${APPA_ERLANG:-1}
snaplen=${APPA_SNAPLEN:-128}
base=${PORT_BASE:-21300}
mkdir -p "$out"
results=$out/results.jsonl
: >"$results"
rm -f "$out"/*.out "$out/go"
PIDS=""
export ERL_EPMD_PORT=$((base + 99))

cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    command -v epmd >/dev/null 2>&1 && epmd -kill >/dev/null 2>&1
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

# node NAME ARGS...: start `stage node ARGS` as NAME; sets ADDR.
node() {
    _n=$1
    shift
    : >"$out/$_n.out" # before the start: no old output may match
    "$stage" node "$@" >"$out/$_n.out" 2>&1 &
    PIDS="$PIDS $!"
    wait_line "$out/$_n.out" "^stage: info: node '[^']+' listening, manager " 10 ||
        return 1
    ADDR=$(sed -n "s/^stage: info: node '\([^']*\)' listening, manager .*/\1/p" \
        "$out/$_n.out")
}

stop_all() {
    for p in $PIDS ${CAP:-}; do kill "$p" 2>/dev/null; done
    CAP=
    wait 2>/dev/null
    PIDS=""
}

# ---- round trips and throughput, with and without a cluster key -----------

# rtt_flood [KEYFILE]: one echo node and one measuring node, round trips
# then one-way messages; with KEYFILE both hold that cluster key and the
# figures are reported as impl "stage_key".
rtt_flood() {
    _key=${1:+--cluster-key $1}
    _impl=${1:+stage_key}
    node echo $_key --theatres 1 "$here/echo.lua" echo 1 &&
        wait_line "$out/echo.out" '^ready echo$' &&
        "$stage" node $_key --join "$ADDR" --theatres 1 --budget 600 \
            "$here/client.lua" rtt "$rtt_n" |
        sed "s/\"impl\":\"stage\"/\"impl\":\"${_impl:-stage}\"/" | emit &&
        "$stage" node $_key --join "$ADDR" --theatres 1 --budget 600 \
            "$here/client.lua" flood "$flood_m" |
        sed "s/\"impl\":\"stage\"/\"impl\":\"${_impl:-stage}\"/" | emit
    stop_all
}

if [ "$key_rounds" -gt 0 ] && [ "$appa_only" != 1 ]; then
    rm -f "$out/cluster.key"
    "$stage" keygen "$out/cluster.key" 2>/dev/null
    _r=0
    while [ "$_r" -lt "$key_rounds" ]; do # interleaved: the CPU drifts
        rtt_flood
        rtt_flood "$out/cluster.key"
        _r=$((_r + 1))
    done
fi

if [ "$appa_only" != 1 ] && [ "$key_only" != 1 ]; then

cc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror \
    -o "$out/raw_rtt" "$here/raw_rtt.c" && "$out/raw_rtt" "$rtt_n" | emit

[ "$key_rounds" -gt 0 ] || rtt_flood # else measured above

erl_ok=no
if command -v erlc >/dev/null 2>&1 && erlc -o "$out" "$here/net_rtt.erl" \
    "$here/appa.erl"; then
    erl_ok=yes
    erl -noshell -name echo@127.0.0.1 -setcookie stagebench -pa "$out" \
        -eval 'net_rtt:serve()' >"$out/erl_echo.out" 2>&1 &
    PIDS="$PIDS $!"
    if wait_line "$out/erl_echo.out" '^ready$'; then
        for m in "rtt $rtt_n" "flood $flood_m"; do
            erl -noshell -name cli@127.0.0.1 -setcookie stagebench \
                -pa "$out" -run net_rtt main ${m% *} echo@127.0.0.1 \
                ${m#* } | emit
        done
    fi
    stop_all
else
    echo "# erlang: erlc not found or compilation failed: skipped" >&2
fi

# ---- find_name with 8 nodes -------------------------------------------------

node f1 --theatres 1 "$here/echo.lua" p1 25
first=$ADDR
for i in 2 3 4 5 6 7 8; do node "f$i" --join "$first" --theatres 1 \
    "$here/echo.lua" "p$i" 25; done
for i in 1 2 3 4 5 6 7 8; do wait_line "$out/f$i.out" "^ready p$i\$"; done
"$stage" node --join "$first" --theatres 1 "$here/client.lua" find \
    p1,p2,p3,p4,p5,p6,p7,p8 25 | emit
stop_all
fi # appa_only

erl_ok=no
[ "$appa_erlang" = 1 ] && command -v erlc >/dev/null 2>&1 &&
    erlc -o "$out" "$here/net_rtt.erl" "$here/appa.erl" && erl_ok=yes

# ---- thesis Appendix A: bytes on the wire -------------------------------------

# pcap_bytes FILE: "PAYLOAD PACKETS" summed over a capture (Linux cooked,
# Ethernet or loopback link types; IPv4 TCP).
pcap_bytes() {
    python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
magic = struct.unpack("<I", d[:4])[0]
e = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
link = struct.unpack(e + "I", d[20:24])[0]
skip = {1: 14, 0: 4, 113: 16, 276: 20}.get(link, 14)
pos, payload, wire = 24, 0, 0
while pos + 16 <= len(d):
    _, _, incl, orig = struct.unpack(e + "IIII", d[pos:pos + 16])
    p = d[pos + 16 + skip:pos + 16 + incl]
    pos += 16 + incl
    if len(p) < 20 or p[0] >> 4 != 4 or p[9] != 6:
        continue
    ihl = (p[0] & 15) * 4
    total = struct.unpack(">H", p[2:4])[0]
    doff = (p[ihl + 12] >> 4) * 4
    payload += total - ihl - doff
    wire += total
print(payload, wire)
PY
}

# capture START FILTER: tcpdump on loopback into $out/cap.pcap.
capture() {
    if [ "$(id -u)" != 0 ] || ! command -v tcpdump >/dev/null 2>&1; then
        echo "# appendix A: tcpdump needs root and tcpdump: skipped" >&2
        return 1
    fi
    rm -f "$out/cap.pcap"
    tcpdump -i lo -U --immediate-mode -s "$snaplen" -w "$out/cap.pcap" "$1" >"$out/tcpdump.out" 2>&1 &
    CAP=$!
    wait_line "$out/tcpdump.out" 'listening on' 10
}

# capture_stop: stop the capture and wait until tcpdump has written it all
# (in this shell: tcpdump is its child).
capture_stop() {
    kill -INT "$CAP"
    wait "$CAP" 2>/dev/null
    CAP=
}

# appa_report IMPL N: the two figures of the capture, once it is stopped
# (before the nodes: a stopping node hands its actors and range off, which
# is not part of the experiment).
appa_report() {
    cp "$out/cap.pcap" "$out/cap_$1_$2.pcap" # kept for taking apart
    set -- "$1" "$2" $(pcap_bytes "$out/cap.pcap")
    printf '{"bench":"appa_payload_%s","impl":"%s","value":%s,"unit":"bytes","better":"lower"}\n' \
        "$2" "$1" "$3"
    printf '{"bench":"appa_wire_%s","impl":"%s","value":%s,"unit":"bytes","better":"lower"}\n' \
        "$2" "$1" "$4"
}

# appa_count N: every Stage node prints what it wrote; their sum, which
# should match the capture's TCP payload (taken just after the capture
# stops, it also holds a little maintenance sent in between).
appa_count() {
    touch "$out/go.count"
    _sum=0
    for i in $(seq 1 "$1"); do
        wait_line "$out/a$i.out" '^counted [0-9]+$' 30 || return 1
        _sum=$((_sum + $(sed -n 's/^counted //p' "$out/a$i.out")))
    done
    printf '{"bench":"appa_counted_%s","impl":"stage","value":%s,"unit":"bytes","better":"lower"}\n' \
        "$1" "$_sum"
}

# appa_wait N IMPL: every node registered, then go, then N*N pings seen.
appa_wait() {
    for i in $(seq 1 "$1"); do
        wait_line "$out/$2$i.out" '^registered$' 60 || return 1
    done
    touch "$out/go"
    for i in $(seq 1 "$1"); do
        wait_line "$out/$2$i.out" '^done$' 60 || {
            grep -v '^pinged$' "$out/$2$i.out" | tail -n 5 >&2
            return 1
        }
    done
    _k=0
    until [ "$(cat "$out/$2"*.out | grep -c '^pinged$')" -ge $(($1 * $1)) ]; do
        _k=$((_k + 1))
        [ "$_k" -gt 600 ] && { echo "# $2: pings missing" >&2; return 1; }
        sleep 0.05
    done
}

# appa_stage N PASS [START]: the Stage nodes of one Appendix A run. They
# look for the files go and START in $out through their file actor
# (--files: actor code has no io).
appa_stage() {
    _start=${3:+$(basename "$3")}
    node a1 --listen "127.0.0.1:$((base + 1))" --theatres 1 --files "$out" \
        "$here/appa.lua" 1 "$1" go $_start || return 1
    for i in $(seq 2 "$1"); do
        node "a$i" --listen "127.0.0.1:$((base + i))" \
            --join "127.0.0.1:$((base + 1))" --theatres 1 --files "$out" \
            "$here/appa.lua" "$i" "$1" go $_start || return 1
    done
}

# appa_erlang N [START]: the Erlang nodes of one Appendix A run.
appa_erlang() {
    for i in $(seq 1 "$1"); do
        erl -noshell -name "e$i@127.0.0.1" -setcookie stagebench -pa "$out" \
            -kernel inet_dist_listen_min $((base + 100 + i)) \
            inet_dist_listen_max $((base + 100 + i)) \
            -run appa main "$i" "$1" e1@127.0.0.1 "$out/go" ${2:-} \
            >"$out/e$i.out" 2>&1 &
        PIDS="$PIDS $!"
        if [ "$i" = 1 ]; then # the others connect to it
            if [ -n "${2:-}" ]; then first=up; else first=registered; fi
            wait_line "$out/e1.out" "^$first\$" 30
        fi
    done
}

# appa_up N IMPL: every node printed "up"; then 3 s for the ring (or
# global) to settle before the capture starts.
appa_up() {
    for i in $(seq 1 "$1"); do
        wait_line "$out/$2$i.out" '^up$' 60 || return 1
    done
    sleep 3 # a settling time, part of the experiment's design, not a wait
}

# Pass "all": the capture covers the whole run, from the first node's start
# (as in the thesis). Pass "ops": the nodes start, join and settle first;
# the capture covers the registrations, lookups and pings only.
[ "$key_only" = 1 ] && appa_nodes=""
for N in $appa_nodes; do
    rm -f "$out/go" "$out/go.count" "$out/start" "$out"/a*.out "$out"/e*.out
    capture "tcp portrange $base-$((base + N))" || break
    appa_stage "$N" && appa_wait "$N" a && capture_stop &&
        appa_report stage "$N" | emit && appa_count "$N" | emit
    stop_all
    rm -f "$out/go" "$out/go.count"
    appa_stage "$N" ops "$out/start" && appa_up "$N" a &&
        capture "tcp portrange $base-$((base + N))" &&
        touch "$out/start" && appa_wait "$N" a && capture_stop &&
        appa_report stage "ops_$N" | emit
    stop_all
    [ "$erl_ok" = yes ] || continue
    rm -f "$out/go" "$out/go.count" "$out/start"
    capture "tcp portrange $((base + 99))-$((base + 100 + N))" || break
    appa_erlang "$N"
    appa_wait "$N" e && capture_stop && appa_report erlang "$N" | emit
    stop_all
    epmd -kill >/dev/null 2>&1
    rm -f "$out/go"
    appa_erlang "$N" "$out/start"
    appa_up "$N" e &&
        capture "tcp portrange $((base + 99))-$((base + 100 + N))" &&
        touch "$out/start" && appa_wait "$N" e && capture_stop &&
        appa_report erlang "ops_$N" | emit
    stop_all
    epmd -kill >/dev/null 2>&1
done

# ---- the table ----------------------------------------------------------------

echo
awk -f "$here/table.awk" "$results"

#!/bin/sh
# bench/run.sh BUILD_DIR: run every benchmark (bench/{erlang,lua,c}) for
# every implementation, RUNS times each (default 3), print every result line
# as it comes, then a table of medians with the ratio to Erlang and the
# targets of issues 2 and 11. `make bench` runs `sh bench/run.sh build`.
#
# Environment: RUNS (3), BENCHES and IMPLS (space-separated subsets),
# TIMEOUT (seconds per run, 900), COUNT (passed to every program as its
# size, for a quick check: skynet needs a power of 10). The result lines
# are also kept in BUILD_DIR/bench/results.jsonl.
#
# A run that fails, times out or prints no result line is reported as such
# and the suite carries on; its benchmark shows "missing" in the table.
set -u

build=${1:-build}
runs=${RUNS:-3}
all="spawn ping_pong ping_pong_cross ring fan_in skynet idle_memory
     skynet_auto fan_in_auto pmap calls_auto"
benches=${BENCHES:-$all}
impls=${IMPLS:-"erlang lua lua-futures c"}
limit=${TIMEOUT:-900}
here=$(cd "$(dirname "$0")" && pwd)
stage=$build/src/cli/stage

mkdir -p "$build/bench"
results=$build/bench/results.jsonl
: >"$results"
erldir=$(mktemp -d)
trap 'rm -rf "$erldir"' EXIT
trap 'exit 130' INT TERM

# Erlang: compile every module (native BEAM code, not the interpreter).
erlang_ok=yes
if ! command -v erlc >/dev/null 2>&1; then
    echo "# erlang: erlc not found (install erlang-base): skipped"
    erlang_ok=no
elif ! erlc -o "$erldir" "$here"/erlang/*.erl; then
    echo "# erlang: compilation failed: skipped"
    erlang_ok=no
fi

# The command line of one benchmark ($2) of one implementation ($1); status
# 1 when that implementation is not available, 2 when it has no such
# benchmark. lua-futures is the Lua ping-pong and ring sending with
# ref:method(...), which makes a future per message, instead of stage.send.
command_of() {
    # ping_pong_cross is ping_pong.lua with the players on two theatres
    file=$2 extra=""
    [ "$2" = ping_pong_cross ] && file=ping_pong extra=cross
    case $1 in
    erlang)
        [ "$erlang_ok" = yes ] || return 1
        # +P: room for 1,000,000+ processes (the default limit is 262,144).
        echo "erl -noshell -noinput +P 4000000 -pa $erldir -run $2 main" ;;
    lua)
        [ -x "$stage" ] || return 1
        # The spawn and flood loops run for seconds in one handler: they are
        # preempted every slice, but must not hit the 10 s budget.
        # idle_memory reads /proc/self/statm through the file actor.
        files=""
        [ "$2" = idle_memory ] && files="--files /proc/self"
        echo "$stage run --budget 600 $files $here/lua/$file.lua $extra" ;;
    lua-futures)
        case $2 in ping_pong | ping_pong_cross | ring) ;; *) return 2 ;; esac
        [ -x "$stage" ] || return 1
        echo "$stage run $here/lua/$file.lua ${COUNT:--} futures $extra" ;;
    c)
        # no C twins of these programs written without placement (pmap's
        # places nothing either)
        case $2 in skynet_auto | fan_in_auto | calls_auto) return 2 ;; esac
        [ -x "$build/bench/bench_$2" ] || return 1
        echo "$build/bench/bench_$2" ;;
    esac
}

if command -v timeout >/dev/null 2>&1; then
    limiter="timeout $limit"
else
    limiter=""
fi

load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "# machine: $(nproc) cores, Linux $(uname -r), load average $load"
for bench in $benches; do
    run=0
    while [ "$run" -lt "$runs" ]; do
        run=$((run + 1))
        for impl in $impls; do
            cmd=$(command_of "$impl" "$bench")
            case $? in
            1) echo "# $impl $bench: not built or not installed: skipped"
               continue ;;
            2) continue ;;
            esac
            out=$(ERL_CRASH_DUMP_SECONDS=0 $limiter $cmd ${COUNT:-})
            status=$?
            line=$(printf '%s\n' "$out" |
                grep "^{\"bench\":\"$bench\",\"impl\":\"$impl\"," | tail -n 1)
            if [ $status -ne 0 ]; then
                echo "# $impl $bench run $run: failed (exit status $status)"
            elif [ -z "$line" ]; then
                echo "# $impl $bench run $run: printed no result line"
            else
                echo "$line"
                echo "$line" >>"$results"
            fi
        done
    done
done

echo
awk -v benches="$benches" -v impls="$impls" -v optional=lua-futures \
    -f "$here/table.awk" "$results"

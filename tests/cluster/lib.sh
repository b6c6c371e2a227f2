# tests/cluster/lib.sh: start real `stage node` processes on loopback and
# wait for what they print. Sourced by the cluster tests.
#   STAGE=<stage binary> DIR=<scratch dir>
set -u
PIDS=""
rm -rf "$DIR" && mkdir -p "$DIR" # no stale output from an earlier run

cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
}
trap cleanup EXIT INT TERM

fail() {
    echo "FAIL: $*" >&2
    for f in "$DIR"/*.out; do
        [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
    done
    exit 1
}

# wait_line FILE REGEX [SECS]: wait until FILE has a line matching REGEX.
wait_line() {
    n=0
    limit=$(( ${3:-20} * 20 ))
    until grep -Eq "$2" "$1" 2>/dev/null; do
        n=$((n + 1))
        [ "$n" -gt "$limit" ] && fail "no line /$2/ in $1 after ${3:-20} s"
        sleep 0.05 # polling a file for an event, with a deadline
    done
}

# start NAME ARGS...: run `stage node ARGS` in the background as NAME,
# stdout and stderr in DIR/NAME.out; sets ADDR_NAME (its address) and
# PID_NAME once it has logged them.
start() {
    name=$1
    shift
    rm -f "$DIR/$name.out" # an earlier run's lines must not pass for this one's
    "$STAGE" node "$@" > "$DIR/$name.out" 2>&1 &
    pid=$!
    PIDS="$PIDS $pid"
    eval "PID_$name=$pid"
    wait_line "$DIR/$name.out" "^stage: info: node '[^']+' listening, manager " 10
    addr=$(sed -n "s/^stage: info: node '\([^']*\)' listening, manager .*/\1/p" \
        "$DIR/$name.out")
    eval "ADDR_$name=$addr"
}

# wait_exit PID [SECS]: wait until process PID (a child) has exited, and
# fail unless its status is 0.
wait_exit() {
    n=0
    # a child that has exited stays a zombie (state Z) until waited for
    while [ -r "/proc/$1/stat" ] && ! grep -q ') Z ' "/proc/$1/stat" 2>/dev/null; do
        n=$((n + 1))
        [ "$n" -gt $(( ${2:-20} * 20 )) ] && fail "process $1 still running after ${2:-20} s"
        sleep 0.05 # polling a process for its exit, with a deadline
    done
    wait "$1" || fail "process $1 exited with status $?"
}

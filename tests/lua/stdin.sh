#!/bin/sh
# tests/lua/stdin.sh STAGE: runs stdin.lua with its standard input a FIFO
# that this script writes: nothing comes until the node says it is
# subscribed (and has served another actor meanwhile), then two lines and
# a last one without a newline, then the end; the node exits by itself
# once the input has ended (its subscription no longer holds it).
set -u
dir=$(dirname "$0")
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
mkfifo "$tmp/in"
"$1" run --theatres 1 "$dir/stdin.lua" <"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
pid=$!
exec 3>"$tmp/in"
fail() {
    echo "FAIL: $1"
    echo "stdout:"; cat "$tmp/out"; echo "stderr:"; cat "$tmp/err"
    kill "$pid" 2>/dev/null
    exit 1
}
# wait_for REGEX: until stdout has a line matching it (at most 10 s)
wait_for() {
    n=0
    until grep -Eq "$1" "$tmp/out"; do
        n=$((n + 1))
        [ "$n" -le 200 ] || fail "no line /$1/ within 10 s"
        kill -0 "$pid" 2>/dev/null || grep -Eq "$1" "$tmp/out" ||
            fail "the node ended before /$1/"
        sleep 0.05
    done
}
wait_for '^subscribed$'
printf 'alpha\nbeta gamma\r\nlast' >&3
wait_for '^line 2: \[beta gamma\]$'
grep -q '^line 3' "$tmp/out" && fail "the unfinished line came before the end"
exec 3>&-
wait_for '^end after 3$'
n=0
while kill -0 "$pid" 2>/dev/null; do
    n=$((n + 1))
    [ "$n" -le 200 ] || fail "the node did not exit after the end of input"
    sleep 0.05
done
wait "$pid" || fail "stage run exited $?"
want=$(printf 'subscribed\nline 1: [alpha]\nline 2: [beta gamma]\nline 3: [last]\nend after 3')
[ "$(cat "$tmp/out")" = "$want" ] || fail "unexpected output"
[ -s "$tmp/err" ] && fail "unexpected log lines"
echo ok

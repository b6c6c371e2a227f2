#!/bin/sh
# tests/lua/fold.sh STAGE: fold.lua makes 100 one-way sends fail. The log
# says so in a few lines, not a hundred: the first in full, then a summary
# "(repeated N times in the last T s)"; the lines and the counts they
# report add up to exactly 100.
set -u
dir=$(dirname "$0")
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
timeout -k 2 20 "$1" run "$dir/fold.lua" >"$tmp/out" 2>"$tmp/err" || {
    echo "FAIL: stage run exited $?"; cat "$tmp/out" "$tmp/err"; exit 1; }
grep -q '^ok$' "$tmp/out" || { echo "FAIL: no ok"; cat "$tmp/out"; exit 1; }
awk '
    /not found .*message .put. not delivered/ {
        lines++
        if (match($0, /\(repeated [0-9]+ times in the last [0-9.]+ s\)$/))
            total += substr($0, RSTART + 10, RLENGTH) + 0
        else if ($0 ~ /\(repeated once in the last [0-9.]+ s\)$/)
            total += 1
        else
            total += 1
        next
    }
    { other++ }
    END {
        if (total != 100) { printf "FAIL: the log reports %d failed sends, not 100\n", total; bad = 1 }
        if (lines > 10) { printf "FAIL: %d lines for 100 failed sends\n", lines; bad = 1 }
        if (other) { printf "FAIL: %d other lines\n", other; bad = 1 }
        exit bad
    }' "$tmp/err" || { echo "--- stderr"; cat "$tmp/err"; exit 1; }

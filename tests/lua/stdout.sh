#!/bin/sh
# tests/lua/stdout.sh STAGE: runs stdout.lua and checks that the lines of
# each actor came out complete and in order, and the last lines exactly.
set -u
dir=$(dirname "$0")
out=$(mktemp) || exit 2
trap 'rm -f "$out"' EXIT
timeout -k 2 20 "$1" run --theatres 3 "$dir/stdout.lua" >"$out" || {
    echo "FAIL: stage run exited $?"; cat "$out"; exit 1; }
awk -F '\t' -v n=300 '
    NF == 2 && $1 ~ /^(main|p[1-4])$/ {
        want = last[$1] + 1
        if ($2 != want) { printf "FAIL: %s line %s, wanted %d\n", $1, $2, want; bad = 1 }
        last[$1] = $2; next
    }
    { tail[++t] = $0 }
    END {
        split("main p1 p2 p3 p4", tags, " ")
        for (i = 1; i <= 5; i++)
            if (last[tags[i]] != n) { printf "FAIL: %s printed %d lines\n", tags[i], last[tags[i]]; bad = 1 }
        if (t != 3 || tail[1] != "abc" || tail[2] != "1\t2.5\ttrue\tnil\tx" || tail[3] != "ok") {
            print "FAIL: last lines:"; for (i = 1; i <= t; i++) print "  [" tail[i] "]"; bad = 1
        }
        exit bad
    }' "$out"

#!/bin/sh
# lua.death_at_stop: death() runs for every live actor when the node stops
# (quiescence, stage.exit), the youngest first in each theatre, once each,
# and not for an actor whose birth never started.
#   death_at_stop.sh <stage binary>
set -u
stage=$1
dir=$(dirname "$0")
out=$(mktemp) || exit 2
trap 'rm -f "$out"' EXIT
fail() {
    echo "FAIL: $*"
    cat "$out"
    exit 1
}
# lines REGEX LINE...: the lines of $out that match REGEX must be exactly
# LINE..., in that order
lines() {
    re=$1
    shift
    want=$(printf '%s\n' "$@")
    got=$(grep -E "$re" "$out")
    [ "$got" = "$want" ] || fail "wanted the lines '$want', got '$got'"
}
run() {
    want=$1
    shift
    timeout 20 "$stage" run "$@" >"$out" 2>&1
    got=$?
    [ "$got" -eq "$want" ] || fail "'$*' exited with $got, wanted $want"
}
run 0 --theatres 2 "$dir/death_at_stop.lua" quiescence
lines '^death a' "death a2" "death a1"
lines '^death b' "death b2" "death b1"
run 5 --theatres 2 "$dir/death_at_stop.lua" exit
grep -q '^exiting$' "$out" || fail "main did not reach stage.exit"
lines '^death a' "death a2" "death a1"
lines '^death [bw]' "death w" "death b2" "death b1"
grep -q '^never$' "$out" && fail "the suspended turn was resumed"
run 6 --theatres 1 "$dir/death_at_stop.lua" unborn
grep -q '^exiting$' "$out" || fail "main did not reach stage.exit"
grep -q '^death' "$out" && fail "an actor that was never born died"
exit 0

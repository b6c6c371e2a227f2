#!/bin/sh
# tests/lua/expect.sh: run a command, check its exit status and its output.
#
#   expect.sh STATUS [-t SECS] [-o REGEX]... [-e REGEX]... [-n REGEX]...
#             -- COMMAND...
#
# STATUS is a number or "nonzero". -o REGEX must match a line of stdout,
# -e REGEX a line of stderr (grep -E), -n REGEX must match no line of
# either. The command is killed after SECS seconds (20), so a hang fails
# with its output instead of leaving a process behind. On a mismatch it
# prints what it expected, both outputs, and fails.
set -u
want=$1
shift
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/checks"
secs=20
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    [ "$1" = "-t" ] && secs=$2
    printf '%s\t%s\n' "$1" "$2" >>"$tmp/checks"
    shift 2
done
[ $# -gt 0 ] && shift
timeout -k 2 "$secs" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
got=$?
fail=""
[ "$got" -eq 124 ] && fail="; killed after $secs s"
case $want in
nonzero) [ "$got" -ne 0 ] || fail="exit status 0, wanted non-zero" ;;
*) [ "$got" -eq "$want" ] || fail="exit status $got, wanted $want" ;;
esac
while IFS="$(printf '\t')" read -r flag re; do
    case $flag in
    -o) grep -Eq -- "$re" "$tmp/out" || fail="$fail; stdout lacks /$re/" ;;
    -e) grep -Eq -- "$re" "$tmp/err" || fail="$fail; stderr lacks /$re/" ;;
    -n) ! cat "$tmp/out" "$tmp/err" | grep -Eq -- "$re" ||
        fail="$fail; output has /$re/" ;;
    esac
done <"$tmp/checks"
if [ -n "$fail" ]; then
    echo "FAIL: $*"
    echo "  ${fail#; }"
    echo "--- stdout"; cat "$tmp/out"
    echo "--- stderr"; cat "$tmp/err"
    exit 1
fi
exit 0

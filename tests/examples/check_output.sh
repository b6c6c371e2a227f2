#!/bin/sh
# tests/examples/check_output.sh EXPECTED -- COMMAND...: runs COMMAND and
# passes when it exits 0, prints exactly the contents of EXPECTED on stdout
# and nothing on stderr (no warning, no unhandled failure). Killed after
# 20 s. On a mismatch it prints the difference.
set -u
expected=$1
shift 2
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
timeout -k 2 20 "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
rc=$?
fail=0
if [ "$rc" -ne 0 ]; then echo "FAIL: exit status $rc"; fail=1; fi
if ! diff -u "$expected" "$tmp/out"; then echo "FAIL: stdout differs"; fail=1; fi
if [ -s "$tmp/err" ]; then
    echo "FAIL: stderr not empty:"; cat "$tmp/err"; fail=1
fi
exit $fail

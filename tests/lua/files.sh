#!/bin/sh
# tests/lua/files.sh STAGE: runs files.lua with --files DIR, DIR holding a
# subdirectory, symbolic links out of it ('link' to its parent, 'out' to a
# file there) and a FIFO, then checks that the files it wrote are there
# and that nothing outside DIR changed; then once without --files.
set -u
dir=$(dirname "$0")
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/root" "$tmp/root/sub"
echo secret >"$tmp/outside.txt"
ln -s .. "$tmp/root/link"
ln -s ../outside.txt "$tmp/root/out"
mkfifo "$tmp/root/pipe" # opening it would wait for a writer: refused
fail() { echo "FAIL: $1"; cat "$tmp/log" 2>/dev/null; exit 1; }
timeout -k 2 20 "$1" run --theatres 1 --files "$tmp/root" "$dir/files.lua" \
    >"$tmp/log" 2>&1 || fail "stage run --files exited $?"
grep -qx ok "$tmp/log" || fail "no ok"
[ "$(cat "$tmp/root/notes.txt")" = "$(printf 'one\ntwo')" ] ||
    fail "notes.txt holds '$(cat "$tmp/root/notes.txt")'"
[ "$(cat "$tmp/outside.txt")" = secret ] || fail "outside.txt changed"
[ "$(ls "$tmp" | grep -vx log)" = "$(printf 'outside.txt\nroot')" ] ||
    fail "something was made outside the directory: $(ls "$tmp")"
timeout -k 2 20 "$1" run "$dir/files.lua" none >"$tmp/log" 2>&1 ||
    fail "stage run without --files exited $?"
grep -qx ok "$tmp/log" || fail "no ok without --files"
echo ok

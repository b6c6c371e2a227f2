#!/bin/sh
# cluster.startup: how `stage node` starts, and fails to, as a newcomer
# meets it. A script that cannot run is reported before the node opens a
# port: given the port of a running node, the error is the script's, not
# the port's, and it comes at once, not after the join is waited for. A
# port in use is reported as such. The node's stdout is its script's.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
bad=$here/../lua/bad
# expect STATUS CHECKS... -- COMMAND...: tests/lua/expect.sh, or fail
expect() { sh "$here/../lua/expect.sh" "$@" || fail "see above"; }
start a --theatres 1

# 1. the script first: a missing file, a syntax error, an error in the
# top level; "listen" and "manager" would mean the node had started
expect 1 -t 5 -e "^cannot open script '$DIR/none\\.lua': no such file or directory\$" \
    -n "listen|manager" -- "$STAGE" node --listen "$ADDR_a" "$DIR/none.lua"
expect 1 -t 5 -e "^.*bad/syntax\\.lua:4: " -n "listen|manager" \
    -- "$STAGE" node --listen "$ADDR_a" "$bad/syntax.lua"
# a join that cannot complete (nothing listens at port 1) is not waited
# for (10 s) before the script is found wrong
expect 1 -t 5 -e "^.*bad/syntax\\.lua:4: " -n "manager" \
    -- "$STAGE" node --join 127.0.0.1:1 "$bad/syntax.lua"
expect 1 -t 5 -e "^.*bad/toplevel_error\\.lua:4: .*nil value" \
    -- "$STAGE" node --join 127.0.0.1:1 "$bad/toplevel_error.lua"

# 2. a port in use: the reason, in one line
expect 1 -t 5 \
    -e "^stage node: cannot listen at '$ADDR_a': address already in use " \
    -n "input/output error|^stage: " -- "$STAGE" node --listen "$ADDR_a"

# 8. the node's stdout is its script's: the address goes to stderr, as a
# log line (STAGE_LOG=warn hides it)
timeout 10 "$STAGE" node --join "$ADDR_a" "$here/stdout.lua" x y \
    >"$DIR/script.out" 2>"$DIR/script.err" || fail "the script's node failed"
printf 'first line\nsecond line 2\n' | cmp -s - "$DIR/script.out" ||
    fail "stdout is not just the script's lines: $(cat "$DIR/script.out")"
grep -Eq "^stage: info: node '127\.0\.0\.1:[0-9]+' listening, manager [0-9a-f]{16}\$" \
    "$DIR/script.err" || fail "no address on stderr: $(cat "$DIR/script.err")"
STAGE_LOG=warn timeout 10 "$STAGE" node --join "$ADDR_a" "$here/stdout.lua" \
    >"$DIR/quiet.out" 2>"$DIR/quiet.err" || fail "the quiet node failed"
[ -s "$DIR/quiet.err" ] && fail "STAGE_LOG=warn, stderr: $(cat "$DIR/quiet.err")"
grep -q '^first line$' "$DIR/quiet.out" || fail "the quiet node printed nothing"

echo "cluster.startup: ok"

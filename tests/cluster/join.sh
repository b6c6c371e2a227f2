#!/bin/sh
# cluster.join: a --join that cannot join. Nobody at the address: the node
# says how it goes on stderr and exits 1 with the reason once
# --join-timeout has passed, main never running (it never becomes a system
# of its own). With --join-retry forever it keeps trying, saying so, and
# joins when a member appears at the address later. A correct --join
# joins, quietly. Bad join options are refused with status 2.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
expect() { sh "$here/../lua/expect.sh" "$@" || fail "see above"; }
ms() { echo $(($(date +%s%N) / 1000000)); }

# 1. nobody at port 1: one progress line (at 5 s), then status 1 at 6 s
t0=$(ms)
expect 1 -t 20 \
    -e "^stage: warn: joining through '127\\.0\\.0\\.1:1': not joined after 5 s: [0-9]+ connection attempts failed, the last: cannot connect: connection refused; trying until 6 s \\(--join-timeout\\)\$" \
    -e "^stage node: cannot join the system at '127\\.0\\.0\\.1:1': not joined within 6 s: [0-9]+ connection attempts failed, the last: cannot connect: connection refused; check the address, or give a longer --join-timeout, or --join-retry forever\$" \
    -n "^joined\$" -- "$STAGE" node --join 127.0.0.1:1 --join-timeout 6 \
    "$here/joined.lua"
took=$(($(ms) - t0))
[ "$took" -ge 6000 ] || fail "gave up after $took ms, before its 6 s"
[ "$took" -lt 10000 ] || fail "gave up after $took ms: the bound is 6 s"

# 2. --join-retry forever (it wins over --join-timeout): an address where
# nobody listens yet (a node's, stopped), then a member there
start gone
kill -TERM "$PID_gone"
wait_exit "$PID_gone" 10
"$STAGE" node --join "$ADDR_gone" --join-timeout 1 --join-retry forever \
    "$here/joined.lua" >"$DIR/forever.out" 2>&1 &
PIDS="$PIDS $!"
wait_line "$DIR/forever.out" "^stage: warn: joining through '$ADDR_gone': not joined after 5 s: [0-9]+ connection attempts failed, the last: cannot connect: connection refused; trying for ever \\(--join-retry forever\\)\$" 15
grep -q '^joined$' "$DIR/forever.out" && fail "joined with nobody there"
start seed --listen "$ADDR_gone"
wait_line "$DIR/forever.out" '^joined$' 20
grep -Eq "^stage: info: joined the system through '$ADDR_gone' after [0-9.]+ s\$" \
    "$DIR/forever.out" || fail "the join that came late was not said"

# 3. a correct --join: joined, main runs, no progress line, status 0
expect 0 -t 15 -o "^first line\$" -n "joining through|cannot join" \
    -- "$STAGE" node --join "$ADDR_seed" "$here/stdout.lua"

# 4. bad join options: status 2 before anything starts
expect 2 -e "^stage node: option '--join-retry' takes 'forever' \\(retry the join until it works; --join-timeout SECS bounds it instead\\), not 'often'\$" \
    -n "manager" -- "$STAGE" node --join "$ADDR_seed" --join-retry often
expect 2 -e "^stage node: option '--join-timeout' needs '--join ADDR': without it the node starts a system of its own\$" \
    -n "manager" -- "$STAGE" node --join-timeout 5
expect 2 -e "'--join-timeout' must be a number of seconds from 0\\.001 to 1000000, not '-1'\$" \
    -n "manager" -- "$STAGE" node --join "$ADDR_seed" --join-timeout -1
echo "cluster.join: ok"

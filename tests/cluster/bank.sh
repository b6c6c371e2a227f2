#!/bin/sh
# cluster.bank: examples/nodes/bank.lua (thesis Listings 4.8, 4.9) on four
# nodes. Two nodes each run a Logger; a bank account on a third makes 20
# transfers, each logged (start, then complete) by a Logger it finds by
# type. Every transfer is logged once, and both loggers get some.
. "$(dirname "$0")/lib.sh"
ex=$(dirname "$0")/../../examples/nodes/bank.lua
start seed --theatres 1
start l1 --join "$ADDR_seed" --theatres 1 "$ex" logger L1
wait_line "$DIR/l1.out" '^logger ready L1$'
start l2 --join "$ADDR_l1" --theatres 2 "$ex" logger L2
wait_line "$DIR/l2.out" '^logger ready L2$'
# both registered in the directory before the account looks for them
"$STAGE" node --join "$ADDR_seed" --theatres 1 "$(dirname "$0")/count_types.lua" \
    Logger 2 > "$DIR/count.out" 2>&1 || fail "the two Loggers never both registered"
"$STAGE" node --join "$ADDR_seed" --theatres 2 "$ex" account 20 \
    > "$DIR/account.out" 2>&1 || fail "the account failed"
grep -q '^balances: 1001 has 790, 2002 has 210$' "$DIR/account.out" ||
    fail "wrong balances"
# the loggers print as they handle the transfers: wait for all 40 lines
logged() { cat "$DIR/l1.out" "$DIR/l2.out" | grep -c "$1"; }
k=0
until [ "$(logged '^L[12]: complete ')" -ge 20 ]; do
    k=$((k + 1))
    [ "$k" -gt 200 ] && fail "not every transfer was logged within 10 s"
    sleep 0.05 # polling the loggers' output, with a deadline
done
for n in $(seq 1 20); do
    s=": start $n from 1001 to 2002\$"
    c=": complete $n from 1001 to 2002\$"
    [ "$(logged "$s")" = 1 ] || fail "transfer $n: not logged as started once"
    [ "$(logged "$c")" = 1 ] || fail "transfer $n: not logged as complete once"
    # start and complete by the same logger, in that order
    f=$(grep -l "$c" "$DIR/l1.out" "$DIR/l2.out")
    ls=$(grep -n "$s" "$f" | cut -d: -f1)
    [ -n "$ls" ] && [ "$ls" -lt "$(grep -n "$c" "$f" | cut -d: -f1)" ] ||
        fail "transfer $n: start and complete not logged in order by one logger"
done
grep -q '^L1: ' "$DIR/l1.out" || fail "L1 logged nothing: find_type not random"
grep -q '^L2: ' "$DIR/l2.out" || fail "L2 logged nothing: find_type not random"
echo "cluster.bank: ok"

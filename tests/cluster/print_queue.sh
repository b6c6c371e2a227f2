#!/bin/sh
# cluster.print_queue: examples/nodes/print_queue.lua (thesis Listings 4.5,
# 4.6) on four nodes. The queue names itself on one node; word processors
# on two others find it by name and get their job numbers back in order.
. "$(dirname "$0")/lib.sh"
ex=$(dirname "$0")/../../examples/nodes/print_queue.lua
here=$(dirname "$0")
start seed --theatres 1
start other --join "$ADDR_seed" --theatres 1 "$here/joined.lua"
wait_line "$DIR/other.out" '^joined$'
start queue --join "$ADDR_other" --theatres 2 "$ex" queue
wait_line "$DIR/queue.out" '^queue ready$'
"$STAGE" node --join "$ADDR_other" "$ex" write "report.txt" "letter.txt" \
    > "$DIR/w1.out" 2>&1 || fail "the first word processor failed"
"$STAGE" node --join "$ADDR_seed" "$ex" write "thesis.pdf" \
    > "$DIR/w2.out" 2>&1 || fail "the second word processor failed"
grep -q "^sent 'report.txt': job 1$" "$DIR/w1.out" || fail "w1: no job 1"
grep -q "^sent 'letter.txt': job 2$" "$DIR/w1.out" || fail "w1: no job 2"
grep -q "^sent 'thesis.pdf': job 3$" "$DIR/w2.out" || fail "w2: no job 3"
wait_line "$DIR/queue.out" '^printing job 3: thesis.pdf$'
[ "$(grep -c '^printing job' "$DIR/queue.out")" = 3 ] ||
    fail "the queue printed another number of jobs than 3"
grep -q '^printing job 1: report.txt$' "$DIR/queue.out" &&
    grep -q '^printing job 2: letter.txt$' "$DIR/queue.out" ||
    fail "the queue printed the jobs out of order"
echo "cluster.print_queue: ok"

#!/bin/sh
# cluster.dead_quiet: a node killed with SIGKILL is declared dead once,
# with a warning; after that, the DHT's tries of its address (a member it
# remembers may be across a partition that healed, so it looks it up now
# and then) fail quietly. Before, each try ended in two warnings, "giving
# up on ..." and "node ... is unreachable", every few seconds for as long
# as the others ran. The survivor logs at debug here, so the test waits
# for the quiet line of the first try instead of for a time.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
opts="--theatres 1 --period 0.2"
STAGE_LOG=debug start a $opts "$here/name_away.lua" idle
start d --join "$ADDR_a" $opts "$here/name_away.lua" idle
start h --join "$ADDR_a" $opts "$here/name_away.lua" idle
# h is in a's DHT once a's ring has it as a neighbour
wait_line "$DIR/a.out" "^stage: debug: connected to '$ADDR_h'" 20
kill -9 "$PID_h"
wait_line "$DIR/a.out" "^stage: warn: node '$ADDR_h' \(incarnation [0-9a-f]+\) is (down|dead)" 20
wait_line "$DIR/a.out" "^stage: debug: giving up on '$ADDR_h'" 40
for n in a d; do
    grep -E "^stage: warn: (giving up on '$ADDR_h'|node '$ADDR_h' is unreachable)" \
        "$DIR/$n.out" && fail "$n warns of the dead node's address again"
done
kill -INT "$PID_a" "$PID_d"
wait_exit "$PID_a" 20
wait_exit "$PID_d" 20
echo "cluster.dead_quiet: ok"

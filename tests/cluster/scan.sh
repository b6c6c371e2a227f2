#!/bin/sh
# cluster.scan: a port scan of a node — fifty connections that close
# without a word — is logged in a few lines, not fifty: the first in full,
# then "(N lines like it ...)" when the second is over; the lines and the
# counts they report add up to fifty. A line of another kind in the middle
# is written at once.
. "$(dirname "$0")/lib.sh"
start a --theatres 1
port=${ADDR_a##*:}
# connect: open a TCP connection to the node and close it at once
connect() {
    bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf "$1" >&3' "$port" "$1" ||
        fail "cannot connect to the node at $port"
}
for n in $(seq 1 25); do connect ''; done
connect 'GET / HTTP/1.0\r\n\r\n'
for n in $(seq 1 25); do connect ''; done
# closed by the peer: the lines and the counts they report
closed() {
    awk '/closing connection from .*: connection closed by the peer/ {
            lines++
            if (match($0, /\(repeated [0-9]+ times in the last/))
                total += substr($0, RSTART + 10, RLENGTH) + 0
            else if (match($0, /\([0-9]+ lines? like it in the last/))
                total += substr($0, RSTART + 1, RLENGTH) + 0
            else
                total += 1
         }
         END { print total + 0, lines + 0 }' "$DIR/a.out"
}
k=0
until [ "$(closed | cut -d' ' -f1)" -ge 50 ]; do
    k=$((k + 1))
    [ "$k" -gt 200 ] && fail "the log reports $(closed) (closed, lines), not 50 closed"
    sleep 0.05 # polling the node's log for the summary, with a deadline
done
set -- $(closed)
[ "$1" = 50 ] || fail "the log reports $1 closed connections, not 50"
[ "$2" -le 10 ] || fail "$2 lines for 50 closed connections"
grep -q "not a stage connection: frame starts with 0x47" "$DIR/a.out" ||
    fail "the HTTP request was folded away"
echo "cluster.scan: ok"

#!/bin/sh
# cluster.bad_input: a caller on one node keeps calling an Area on the
# target node while raw sockets send the target bytes that are not frames,
# an oversized frame, a wrong version, a truncated frame, and (after a good
# handshake) frames whose bodies make no sense to the node. Each bad
# connection is logged (and closed where the transport refuses it); the
# caller's calls keep being answered throughout.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
start seed --theatres 1
start target --join "$ADDR_seed" --theatres 2 "$here/serve.lua" area-t
wait_line "$DIR/target.out" '^ready area-t$'
start caller --join "$ADDR_seed" --theatres 1 "$here/caller.lua" area-t
wait_line "$DIR/caller.out" '^calls 50$'
port=${ADDR_target##*:}

# raw BYTES: open a TCP connection to the target, write BYTES (printf
# escapes), close it.
raw() {
    bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf "$1" >&3' \
        "$port" "$1" || fail "cannot connect to the target at $port"
}
# still_serving: the caller gets 100 more answers.
still_serving() {
    now=$(sed -n 's/^calls //p' "$DIR/caller.out" | tail -n 1)
    wait_line "$DIR/caller.out" "^calls $((now + 100))\$" 10
}
# hello: HELLO gets a handshake from incarnation N (1, 2, ...) of a node
# at 127.0.0.1:9 that has no session with the target: ST, version 4, kind
# 0, 19 bytes: [2, "127.0.0.1:9", N, 0, 0, 0, 1]. Each raw connection
# below is another incarnation (a node that restarted): the target ends
# its session with the one before, and does not take this handshake for a
# stale one of the same incarnation.
inc=0
hello() {
    inc=$((inc + 1))
    HELLO=$(printf 'ST\\004\\000\\000\\000\\000\\023\\227\\002\\253127.0.0.1:9\\%03o\\000\\000\\000\\001' "$inc")
}

raw 'GET / HTTP/1.0\r\n\r\n'
wait_line "$DIR/target.out" "not a stage connection: frame starts with 0x47 instead of 'ST'"
still_serving
raw 'ST\004\000\377\377\377\360'
wait_line "$DIR/target.out" 'frame of 4294967288 bytes exceeds the maximum of 256 bytes'
still_serving
raw 'ST\003\000\000\000\000\001\300'
wait_line "$DIR/target.out" 'unsupported protocol version 3 \(this node speaks 4\)'
still_serving
raw 'ST\004\000\000\000\000\017\223\001'
wait_line "$DIR/target.out" 'closing connection from .*connection closed by the peer'
still_serving
# after a good handshake: a message body of the wrong shape, an unknown
# kind, a DHT body that is no DHT message, a body that is not msgpack
hello
raw "$HELLO"'ST\004\020\000\000\000\003\222\001\002'
wait_line "$DIR/target.out" "dropped a frame of kind 16 from '127.0.0.1:9'"
# a STOP with a method (a MSG's shape): refused, nothing stopped
hello
raw "$HELLO"'ST\004\026\000\000\000\011\226\001\001\001\241A\241m\220'
wait_line "$DIR/target.out" "dropped a frame of kind 22 from '127.0.0.1:9'"
# a PICK with a FIND's shape ([call, type, all]): refused
hello
raw "$HELLO"'ST\004\027\000\000\000\005\223\001\241A\303'
wait_line "$DIR/target.out" "dropped a frame of kind 23 from '127.0.0.1:9'"
# monitors: a MONITOR of the wrong shape, a DEMONITOR without its
# target, a DOWN with a positive status, a DOWN for a monitor no theatre
# of the target could have made (theatre 127)
hello
raw "$HELLO"'ST\004\030\000\000\000\003\222\001\002'
wait_line "$DIR/target.out" "dropped a frame of kind 24 from '127.0.0.1:9'"
hello
raw "$HELLO"'ST\004\031\000\000\000\002\221\001'
wait_line "$DIR/target.out" "dropped a frame of kind 25 from '127.0.0.1:9'"
hello
raw "$HELLO"'ST\004\032\000\000\000\006\224\001\001\005\241x'
wait_line "$DIR/target.out" "dropped a frame of kind 26 from '127.0.0.1:9': malformed"
hello
raw "$HELLO"'ST\004\032\000\000\000\005\224\177\001\000\240'
# the same line again: written, or folded into a count within a second
n=0
until [ "$(grep -c "dropped a frame of kind 26 from '127.0.0.1:9'" \
        "$DIR/target.out")" -ge 2 ] ||
    grep -q "kind 26 from '127.0.0.1:9'.*(repeated once" "$DIR/target.out"; do
    n=$((n + 1))
    [ "$n" -gt 200 ] && fail "the second bad DOWN was not logged"
    sleep 0.05 # polling a file for an event, with a deadline
done
# NODE_DOWN: a nil body; a well-formed one (about a node nobody knows)
# is news, believed and logged
hello
raw "$HELLO"'ST\004\033\000\000\000\001\300'
wait_line "$DIR/target.out" "dropped a frame of kind 27 from '127.0.0.1:9'"
hello
raw "$HELLO"'ST\004\033\000\000\000\021\224\253127.0.0.1:1\005\000\241x'
wait_line "$DIR/target.out" "node '127.0.0.1:1' \\(incarnation 5\\) is dead, says '127.0.0.1:9': x"
# MOVE (kind 28, docs/protocol.md): a nil body; an OUT that speaks for
# an actor of another node than its sender's; an IMPORT whose image is no
# image (answered FAILED, nothing created); a REPLY for a token nobody
# holds. Each refused with a line; the node serves on.
hello
raw "$HELLO"'ST\004\034\000\000\000\001\300'
wait_line "$DIR/target.out" "refused a MOVE frame from '127.0.0.1:9': malformed"
hello
raw "$HELLO"'\123\124\004\034\000\000\000\053\230\002\000\000\000\225\253\061\062\067\056\060\056\060\056\061\072\061\005\000\001\241\101\225\253\061\062\067\056\060\056\060\056\061\072\061\005\000\001\241\101\300\300'
wait_line "$DIR/target.out" "refused a MOVE frame \\(2\\) from '127.0.0.1:9': it speaks for an actor of node '127.0.0.1:1'"
hello
raw "$HELLO"'\123\124\004\034\000\000\000\035\230\005\000\000\000\225\253\061\062\067\056\060\056\060\056\061\072\071\005\000\001\241\101\300\300\304\002\221\001'
wait_line "$DIR/target.out" "did not take in an actor moving from '127.0.0.1:9': .*does not start as an image does"
hello
raw "$HELLO"'\123\124\004\034\000\000\000\013\230\010\007\001\000\300\300\300\304\001\001'
wait_line "$DIR/target.out" "dropped the answer from '127.0.0.1:9' to a call held by token 7"
# the drain's steps: an ADOPT that speaks for another node's actor, an
# ADOPTED from a node the actor is not at; a BOUNCE that is not one, and
# one of a message (call 5) this node never sent
hello
raw "$HELLO"'\123\124\004\034\000\000\000\053\230\012\000\000\000\225\253\061\062\067\056\060\056\060\056\061\072\061\005\000\001\241\101\225\253\061\062\067\056\060\056\060\056\061\072\061\005\000\001\241\101\300\300'
wait_line "$DIR/target.out" "refused a MOVE frame \\(10\\) from '127.0.0.1:9': it speaks for an actor of node '127.0.0.1:1'"
hello
raw "$HELLO"'\123\124\004\034\000\000\000\053\230\013\000\000\000\225\253\061\062\067\056\060\056\060\056\061\072\071\005\000\001\241\101\225\253\061\062\067\056\060\056\060\056\061\072\061\005\000\001\241\101\300\300'
wait_line "$DIR/target.out" "refused a MOVE frame \\(11\\) from '127.0.0.1:9': it speaks for an actor of node '127.0.0.1:1'"
# a NAMES (an actor's record sent again by its home) that speaks for
# another node's actor
hello
raw "$HELLO"'\123\124\004\034\000\000\000\053\230\014\000\000\000\225\253\061\062\067\056\060\056\060\056\061\072\061\005\000\001\241\101\225\253\061\062\067\056\060\056\060\056\061\072\061\005\000\001\241\101\300\300'
wait_line "$DIR/target.out" "refused a MOVE frame \\(12\\) from '127.0.0.1:9': it speaks for an actor of node '127.0.0.1:1'"
hello
raw "$HELLO"'ST\004\035\000\000\000\001\300'
wait_line "$DIR/target.out" "dropped a frame of kind 29 from '127.0.0.1:9'"
hello
raw "$HELLO"'ST\004\035\000\000\000\015\222\020\304\011\226\005\001\001\241A\241m\220'
wait_line "$DIR/target.out" "a message node '127.0.0.1:9' sent back \\(it drains\\) matches nothing sent to it"
still_serving
hello
raw "$HELLO"'ST\004\143\000\000\000\001\300'
wait_line "$DIR/target.out" "dropped a frame of kind 99 from '127.0.0.1:9'"
hello
raw "$HELLO"'ST\004\024\000\000\000\004\223\001\004\003'
wait_line "$DIR/target.out" "dropped a frame of kind 20 from '127.0.0.1:9'"
hello
raw "$HELLO"'ST\004\020\000\000\000\002\223\001'
wait_line "$DIR/target.out" 'malformed frame body \(kind 16, length 2\)'
hello
raw "$HELLO"'ST\004\020\177\377\377\370'
wait_line "$DIR/target.out" 'frame of 2147483648 bytes exceeds the maximum of 8388608 bytes'
still_serving
grep -q 'failed' "$DIR/caller.out" && fail "a call failed"
echo "cluster.bad_input: ok"

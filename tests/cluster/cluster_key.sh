#!/bin/sh
# cluster.cluster_key: nodes that share a cluster key (stage keygen, mode
# 0600) make a system: three of them run a script across nodes
# (keyed.lua: names, a type, spawn_at, order, large messages, a failure)
# while a caller keeps calling. A node with another key, or with
# none, cannot join (exit status 1, the reason on both sides); a key file
# others can read is refused; without a key a node does not listen on a
# non-loopback address unless --insecure; garbage and random bytes sent
# to a keyed node are logged and the node keeps serving; nodes half way
# through a key rotation (two keys each, in either order) work together.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
expect() { sh "$here/../lua/expect.sh" "$@" || fail "see above"; }
key=$DIR/cluster.key
other=$DIR/other.key

# keygen: a private file of 64 hex digits, not replaced unless told
expect 0 -e "^stage keygen: wrote a new cluster key to '$key' \\(mode 0600\\)\$" \
    -- "$STAGE" keygen "$key"
"$STAGE" keygen "$other" 2>/dev/null || fail "keygen of a second key failed"
[ "$(stat -c %a "$key")" = 600 ] || fail "the key file's mode is not 0600"
grep -Eqx '[0-9a-f]{64}' "$key" || fail "the key file is not 64 hex digits"
cmp -s "$key" "$other" && fail "two keys are the same"
cp "$key" "$DIR/before"
expect 1 -e "^stage keygen: '$key' exists: it is not replaced \\(give --force" \
    -- "$STAGE" keygen "$key"
cmp -s "$key" "$DIR/before" || fail "keygen replaced the key without --force"
# a FILE named like an option: refused as one, written after '--'
expect 2 -e "^stage keygen: unknown option '-k' \\(for a FILE whose name begins with '-', give '--' before it\\)\$" \
    -- "$STAGE" keygen -k
(cd "$DIR" && "$STAGE" keygen -- -k 2>/dev/null) ||
    fail "keygen -- -k did not write '-k'"
grep -Eqx '[0-9a-f]{64}' "$DIR/-k" || fail "'-k' is not a key"
# a key of zeros is no secret: refused, saying why
printf '%064d\n' 0 >"$DIR/zero.key"
chmod 600 "$DIR/zero.key"
expect 1 -e "^stage node: cluster key '$DIR/zero.key' is all zeros: anyone can guess it; give a key made by stage keygen FILE\$" \
    -n "listening" -- "$STAGE" node --cluster-key "$DIR/zero.key"

# 1. three nodes with the key: b joins a (the option), the client joins b
# (the environment variable) and runs keyed.lua's checks across the nodes
start a --cluster-key "$key" --theatres 2 "$here/serve.lua" area-a
grep -q "listening, manager .*, cluster key required\$" "$DIR/a.out" ||
    fail "a does not say that it requires a key"
start b --cluster-key "$key" --join "$ADDR_a" --theatres 2 \
    "$here/serve.lua" area-b
wait_line "$DIR/a.out" '^ready area-a$'
wait_line "$DIR/b.out" '^ready area-b$'
STAGE_CLUSTER_KEY_FILE=$key "$STAGE" node --join "$ADDR_b" --theatres 2 \
    "$here/keyed.lua" "$ADDR_a" >"$DIR/client.out" 2>&1 ||
    fail "the client failed"
grep -q '^ok$' "$DIR/client.out" || fail "the client did not finish"
start caller --cluster-key "$key" --join "$ADDR_b" "$here/caller.lua" area-a
wait_line "$DIR/caller.out" '^calls 50$'

# 2. a fourth node with another key, then one with none: exit status 1,
# its reason, and a line naming it on the node it tried
expect 1 -t 20 \
    -e "^stage node: cannot join the system at '$ADDR_a': not joined within 3 s: .*the last: it refused this node's cluster key: the two nodes hold different keys" \
    -n "^ok\$" -- "$STAGE" node --cluster-key "$other" --join "$ADDR_a" \
    --join-timeout 3 "$here/joined.lua"
grep -Eq "^stage: warn: closing connection from '127\\.0\\.0\\.1:[0-9]+': wrong cluster key" \
    "$DIR/a.out" || fail "a did not log the wrong key"
expect 1 -t 20 \
    -e "^stage node: cannot join the system at '$ADDR_a': not joined within 3 s: .*the last: it requires a cluster key, and this node has none" \
    -- "$STAGE" node --join "$ADDR_a" --join-timeout 3 "$here/joined.lua"
grep -Eq "^stage: warn: closing connection from '127\\.0\\.0\\.1:[0-9]+': it has no cluster key \\(it speaks the plain protocol\\)" \
    "$DIR/a.out" || fail "a did not log the node without a key"

# 3. a key file others can read is refused, saying why, before anything
chmod 644 "$other"
expect 1 -e "^stage node: cluster key '$other' can be read or written by others \\(mode 0644\\): it is ignored; run chmod 600 '$other'\$" \
    -n "listening" -- "$STAGE" node --cluster-key "$other"

# 4. no key: loopback only, unless --insecure; a key: any address
expect 1 -e "^stage node: refusing to listen at '0\\.0\\.0\\.0:0' without a cluster key: every host that can reach it could join the system and run code in it; give --cluster-key FILE \\(stage keygen FILE makes one\\), or --insecure to listen anyway\$" \
    -n "listening" -- "$STAGE" node --listen 0.0.0.0:0
start open --listen 0.0.0.0:0 --insecure
# --insecure with a key, from the option or the environment: which one is
# meant cannot be guessed, so neither is taken
expect 2 -e "^stage node: '--insecure' and a cluster key \\(--cluster-key\\) contradict each other" \
    -n "listening" -- "$STAGE" node --insecure --cluster-key "$key"
expect 2 -e "^stage node: '--insecure' and a cluster key \\(STAGE_CLUSTER_KEY_FILE\\) contradict each other" \
    -n "listening" -- env STAGE_CLUSTER_KEY_FILE="$key" "$STAGE" node --insecure
start keyed --listen 0.0.0.0:0 --cluster-key "$key"

# 5. garbage and random bytes to a keyed node's port: each connection is
# logged, and the node keeps answering the caller
port=${ADDR_a##*:}
still_serving() {
    now=$(sed -n 's/^calls //p' "$DIR/caller.out" | tail -n 1)
    wait_line "$DIR/caller.out" "^calls $((now + 100))\$" 10
}
# more_lines REGEX N: wait until a.out has more than N lines matching REGEX
more_lines() {
    n=0
    until [ "$(grep -Ec "$1" "$DIR/a.out")" -gt "$2" ]; do
        n=$((n + 1))
        [ "$n" -gt 200 ] && fail "no new line /$1/ in a.out after 10 s"
        sleep 0.05 # polling a file for an event, with a deadline
    done
}
# send FILE: open a connection to a, write FILE, close it
send() {
    bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && cat "$1" >&3' "$port" "$1" ||
        fail "cannot connect to a"
}
garbage="closing connection from '127\\.0\\.0\\.1:[0-9]+': garbage instead of the cluster-key handshake"
forged="closing connection from '127\\.0\\.0\\.1:[0-9]+': wrong cluster key"
printf 'GET / HTTP/1.0\r\n\r\n' >"$DIR/http"
n=$(grep -Ec "$garbage" "$DIR/a.out")
send "$DIR/http"
more_lines "$garbage" "$n"
still_serving
head -c 65535 /dev/urandom | tr 'S' 'x' >"$DIR/random" # never "SK" or "ST"
n=$(grep -Ec "$garbage" "$DIR/a.out")
send "$DIR/random"
more_lines "$garbage" "$n"
printf 'SK\001\001' >"$DIR/hello" # a handshake with a random key and tag
head -c 49 /dev/urandom >>"$DIR/hello" # ciphers, e, tag: 53 bytes
n=$(grep -Ec "$forged" "$DIR/a.out")
send "$DIR/hello"
more_lines "$forged" "$n"
still_serving
kill -0 "$PID_a" || fail "a stopped"

# 6. a rotation half done (docs/security.md, "Rotating the key"): a node
# that dials with the old key and accepts both, and one that dials with
# the new key and accepts both, make one system
new=$DIR/new.key
"$STAGE" keygen "$new" 2>/dev/null || fail "keygen of the new key failed"
start r1 --cluster-key "$key" --cluster-key "$new" "$here/serve.lua" area-r
wait_line "$DIR/r1.out" '^ready area-r$'
start r2 --cluster-key "$new" --cluster-key "$key" --join "$ADDR_r1" \
    "$here/caller.lua" area-r
wait_line "$DIR/r2.out" '^calls 50$'
expect 2 -e "^stage node: option '--cluster-key' given more than 2 times" \
    -- "$STAGE" node --cluster-key "$key" --cluster-key "$new" \
    --cluster-key "$key"
echo "cluster.cluster_key: ok"

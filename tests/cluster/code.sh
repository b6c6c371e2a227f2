#!/bin/sh
# cluster.code: code on demand (issue 12, point 2). B and C are started
# with no script. A's program spawns its types on B with spawn_at and
# moves an actor of a type B and C never had to C: each fetches the code
# from the sources store, loads it in every theatre and serves; main, which
# the same script defines, runs on A only. Then: a type the store has no
# code for (TypeNotFound), a script whose Greeter is not the stored one
# (SourceClash, on the spawn and in the spawning node's log), code whose
# top level fails, spawns or never ends where it is loaded (ScriptError; a move
# of such a type fails and the actor stays), and B serves on.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
start B --theatres 2 --budget 1
start C --join "$ADDR_B" --theatres 3
# A stays up: the store's entries are its own, or B's and C's
start A --join "$ADDR_B" --theatres 2 "$here/code.lua" go "$ADDR_B" "$ADDR_C"
wait_line "$DIR/A.out" '^(ok|stage: error)' 30
grep -q "^greeter: hello you from $ADDR_B / HELLO B FROM $ADDR_B\$" \
    "$DIR/A.out" || fail "the Greeter on B: $(grep '^greeter' "$DIR/A.out")"
grep -q "^counter: 5 at $ADDR_B\$" "$DIR/A.out" ||
    fail "the Counter on B: $(grep '^counter' "$DIR/A.out")"
grep -q "^moved: hello 15 at $ADDR_C\$" "$DIR/A.out" ||
    fail "the Mover moved to C: $(grep '^moved' "$DIR/A.out")"
grep -q '^main ran: go$' "$DIR/A.out" || fail "main did not run on A"
grep -q '^main ran' "$DIR/B.out" "$DIR/C.out" &&
    fail "main ran on a node that loaded the script from the store"
run() { # run NAME SCRIPT ARGS...: a program to its end, into DIR/NAME.out
    name=$1
    shift
    "$STAGE" node --join "$ADDR_B" --theatres 1 "$@" > "$DIR/$name.out" 2>&1 ||
        fail "the program $name failed"
}
run missing "$here/code.lua" missing "$ADDR_B"
grep -q "^missing: false TypeNotFound: .*node '$ADDR_B' has no actor type 'Nowhere', and the sources store has no code for it" \
    "$DIR/missing.out" || fail "a type nobody stored: $(grep '^missing' "$DIR/missing.out")"
run clash "$here/code_other.lua" clash "$ADDR_B"
grep -q "^clash: false SourceClash: .*cannot spawn 'Greeter' on node '$ADDR_B': actor type 'Greeter': the sources store has other code for it" \
    "$DIR/clash.out" || fail "a clash: $(grep '^clash' "$DIR/clash.out")"
grep -q "^stage: error: actor type 'Greeter': the sources store has other code for it" \
    "$DIR/clash.out" || fail "the clash is not in the spawning node's log"
grep -q "^move: false SourceClash: .*cannot take an actor of type 'Greeter' in: it runs version [0-9a-f]* of the type's code, and this node version [0-9a-f]*" \
    "$DIR/clash.out" || fail "a move to a node with other code: $(grep '^move' "$DIR/clash.out")"
grep -q "^stays: not the same code\$" "$DIR/clash.out" ||
    fail "the Greeter refused elsewhere: $(grep '^stays' "$DIR/clash.out")"
run fragile "$here/code_other.lua" fragile "$ADDR_B"
grep -q "^fragile: false SourceClash: .*the code of actor type 'Fragile' from the sources store does not load on node '$ADDR_B': sources store 'Fragile':[0-9]*: it defines actor type 'Greeter', which this node has already from other code" \
    "$DIR/fragile.out" || fail "code that redefines a type: $(grep '^fragile' "$DIR/fragile.out")"
run raise "$here/code_raise.lua" "$ADDR_B"
grep -q "^raise: false ScriptError: .*the code of actor type 'Raiser' from the sources store does not load on node '$ADDR_B': sources store 'Raiser':[0-9]*: Raiser refuses to be loaded from the store" \
    "$DIR/raise.out" || fail "a top level that fails: $(grep '^raise' "$DIR/raise.out")"
grep -q "^move: false TypeNotFound: cannot take actor 'Raiser' in: this node has no Lua type 'Raiser'\$" \
    "$DIR/raise.out" || fail "a move of a type that cannot load: $(grep '^move' "$DIR/raise.out")"
grep -q "^stage: warn: an actor of type 'Raiser' from '[^']*' cannot come in: .*Raiser refuses to be loaded" \
    "$DIR/B.out" || fail "B does not say why the Raiser could not come in"
grep -q "^stays: hi at " "$DIR/raise.out" || fail "the Raiser that could not move"
run spawn "$here/code_spawn.lua" "$ADDR_B"
grep -q "^spawn: false ScriptError: .*'TopSpawner' from the sources store does not load on node '$ADDR_B': sources store 'TopSpawner':[0-9]*: spawn 'TopSpawner': actors are spawned from handlers or main, not from the script's top level" \
    "$DIR/spawn.out" || fail "a top level that spawns: $(grep '^spawn' "$DIR/spawn.out")"
run loop "$here/code_loop.lua" "$ADDR_B"
grep -q "^loop: false ScriptError: .*'Looper' from the sources store does not load on node '$ADDR_B': .*it ran past the handler budget of 1 s" \
    "$DIR/loop.out" || fail "a top level that never ends: $(grep '^loop' "$DIR/loop.out")"
# B serves on, and the types it loaded before are still there
run again "$here/code.lua" again "$ADDR_B"
grep -q "^again: hello again from $ADDR_B\$" "$DIR/again.out" ||
    fail "B after the failed loads: $(grep '^again' "$DIR/again.out")"
echo "cluster.code: ok"

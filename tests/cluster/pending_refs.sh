#!/bin/sh
# cluster.pending_refs: stage.name and stage.migrate given a reference
# whose lookup still runs wait for it (pending_refs.lua says what is
# checked). Before, each raised "... has no actor yet (await a message to
# it first)", or not, depending on how fast the lookup was.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
"$STAGE" node --theatres 2 "$here/pending_refs.lua" >"$DIR/p.out" 2>&1 ||
    fail "the calls did not wait for their lookups"
grep -q '^ok$' "$DIR/p.out" || fail "no check"
echo "cluster.pending_refs: ok"

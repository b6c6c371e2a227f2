#!/bin/sh
# cluster.c_guestbook: the worked example of docs/c-api.md. A stage node
# runs examples/c/greeter.lua (a Lua Greeter named "greeter"); the C program
# examples/c/guestbook joins its system, names a C actor "guestbook", and
# calls the greeter by name, which calls the guestbook back by name. The
# program must exit 0, print exactly tests/examples/c_guestbook.out and
# nothing on stderr.   GUESTBOOK=<the program>
. "$(dirname "$0")/lib.sh"
top=$(dirname "$0")/../..
start seed --theatres 2 "$top/examples/c/greeter.lua"
wait_line "$DIR/seed.out" '^ready$'
timeout -k 2 30 "$GUESTBOOK" "$ADDR_seed" > "$DIR/guestbook.out" \
    2> "$DIR/guestbook.err" </dev/null || fail "the program exited with $?"
diff -u "$top/tests/examples/c_guestbook.out" "$DIR/guestbook.out" ||
    fail "the program's output differs"
[ -s "$DIR/guestbook.err" ] && fail "the program wrote to stderr: $(cat "$DIR/guestbook.err")"
echo "cluster.c_guestbook: ok"

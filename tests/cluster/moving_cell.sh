#!/bin/sh
# cluster.moving_cell: SALSA's MovingCellTester (examples/nodes/
# moving_cell.lua) across three nodes — a cell on node b answers and is
# set, moves to node c with its content, and answers there through the
# tester's first reference. The cell prints on the node where it is; the
# tester prints the values it gets back. Each output is checked whole.
. "$(dirname "$0")/lib.sh"
ex=$(dirname "$0")/../../examples/nodes/moving_cell.lua
start b --theatres 2 "$ex"
start c --join "$ADDR_b" --theatres 2 "$ex"
"$STAGE" node --join "$ADDR_b" "$ex" "$ADDR_b" "$ADDR_c" \
    >"$DIR/t.out" 2>&1 || fail "the tester failed"
# only_lines FILE LINE...: FILE's lines, not the log's, are LINE...
only_lines() {
    f=$1
    shift
    printf '%s\n' "$@" >"$f.want"
    grep -v '^stage: ' "$f" | cmp -s - "$f.want" ||
        fail "$f is not: $*"
}
only_lines "$DIR/t.out" "Initial Value: Hello" "New Value: World" \
    "New Value at New Location: New World"
wait_line "$DIR/c.out" '^Returning: New World$'
only_lines "$DIR/b.out" "Returning: Hello" "Setting: World" \
    "Returning: World"
only_lines "$DIR/c.out" "Setting: New World" "Returning: New World"
echo "cluster.moving_cell: ok"

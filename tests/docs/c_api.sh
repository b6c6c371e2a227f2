#!/bin/sh
# tests/docs/c_api.sh SRC_DIR: docs/c-api.md cannot fall behind the C API —
# every function the public headers export is described there, its worked
# example is examples/c/guestbook.c as it is (the program cluster.c_guestbook
# runs), and each line of its Lua excerpt is a line of examples/c/greeter.lua.
set -u
src=${1:?usage: c_api.sh SRC_DIR}
page=$src/docs/c-api.md
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
fail=0

for f in $(grep -ho '^STAGE_EXTERN[^(]*(' "$src"/include/stage/*.h |
    sed 's/.*[ *]\([a-z_0-9]*\)($/\1/' | sort -u); do
    if ! grep -q "\`$f[(\`]" "$page"; then
        echo "c_api: '$f' is exported by include/stage/ and not described in docs/c-api.md"
        fail=1
    fi
done

# the code block right after the marker line
awk '/^<!-- examples\/c\/guestbook.c, whole/ {m=1; next}
     m == 1 && /^```c$/ {m=2; next}
     m == 2 && /^```$/ {exit}
     m == 2 {print}' "$page" > "$tmp/example.c"
if ! diff -u "$src/examples/c/guestbook.c" "$tmp/example.c"; then
    echo "c_api: the worked example in docs/c-api.md is not examples/c/guestbook.c"
    fail=1
fi

awk '/^```lua$/ {m=1; next} m && /^```$/ {exit} m {print}' "$page" |
    grep -v '^$' > "$tmp/excerpt.lua"
[ -s "$tmp/excerpt.lua" ] || { echo "c_api: no Lua excerpt"; fail=1; }
while IFS= read -r line; do
    if ! grep -Fxq -- "$line" "$src/examples/c/greeter.lua"; then
        echo "c_api: excerpt line not in examples/c/greeter.lua: $line"
        fail=1
    fi
done < "$tmp/excerpt.lua"
exit $fail

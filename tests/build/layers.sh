#!/bin/sh
# tests/build/layers.sh SRC_DIR: the system headers of a dependency are
# included only by the component that links it (docs/architecture.md).
# The build refuses wrong-way includes of our own headers by itself (each
# component sees only the headers of those it links); libuv's and
# libsodium's headers sit in /usr/include, where every component can
# reach them, so this test is their fence.
set -u
src=${1:?usage: layers.sh SRC_DIR}
status=0

# allowed COMPONENTS HEADER-REGEX: only those folders may include it.
allowed() {
    comps=$1
    pattern=$2
    for f in $(grep -rlE "^#[[:space:]]*include[[:space:]]*<($pattern)>" \
        "$src" --include='*.c' --include='*.h'); do
        comp=$(echo "${f#"$src"/}" | cut -d/ -f1)
        case " $comps " in
        *" $comp "*) ;;
        *)
            echo "layers: $f includes <$(grep -hoE "<($pattern)>" "$f" |
                head -n 1 | tr -d '<>')>, which only $comps may use"
            status=1
            ;;
        esac
    done
}

allowed "net" 'uv\.h|uv/[a-z-]+\.h'
allowed "lua" 'lua\.h|lauxlib\.h|lualib\.h|luaconf\.h'
allowed "dht net" 'sodium\.h|sodium/[a-z_0-9]+\.h'
allowed "" 'msgpack\.h|microhttpd\.h|cmocka\.h'

# The pure components (no I/O, no clock, no threads) include none of the
# system headers that would give them one: src/node, like src/dht and
# src/session, runs under the simulator.
pure() {
    comp=$1
    for f in $(grep -rlE "^#[[:space:]]*include[[:space:]]*<(pthread\.h|threads\.h|time\.h|sys/time\.h|sys/socket\.h|unistd\.h)>" \
        "$src/$comp" --include='*.c' --include='*.h' 2>/dev/null); do
        echo "layers: $f includes a clock, thread or socket header; $comp is pure logic"
        status=1
    done
    for f in $(grep -rlE '^#[[:space:]]*include[[:space:]]*"(core|net|lua|http|cli|sim)/' \
        "$src/$comp" --include='*.c' --include='*.h' 2>/dev/null); do
        echo "layers: $f includes a header of a component above $comp"
        status=1
    done
}
pure node

[ $status -eq 0 ] && echo "layers: every dependency's headers stay in their layer"
exit $status

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

# pure COMPONENTS: protocol logic without I/O (DESIGN.md) reads no clock,
# starts no thread and opens no socket: time comes in as an argument.
pure() {
    for comp in $1; do
        [ -d "$src/$comp" ] || continue
        for f in $(grep -rlE "^#[[:space:]]*include[[:space:]]*<($2)>" \
            "$src/$comp" --include='*.c' --include='*.h'); do
            echo "layers: $f includes <$(grep -hoE "<($2)>" "$f" |
                head -n 1 | tr -d '<>')>, and $comp is pure logic (no I/O)"
            status=1
        done
    done
}

pure "session dht node" \
    'time\.h|sys/time\.h|pthread\.h|threads\.h|unistd\.h|sys/socket\.h'

# node also stays below the runtime: it includes no header of a component
# above it (it runs under the simulator without them).
for f in $(grep -rlE '^#[[:space:]]*include[[:space:]]*"(core|net|lua|http|cli|sim)/' \
    "$src/node" --include='*.c' --include='*.h' 2>/dev/null); do
    echo "layers: $f includes a header of a component above node"
    status=1
done

[ $status -eq 0 ] && echo "layers: every dependency's headers stay in their layer"
exit $status

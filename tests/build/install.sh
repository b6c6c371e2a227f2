#!/bin/sh
# tests/build/install.sh BUILD_DIR SRC_DIR: `cmake --install` into a fresh
# prefix puts libstage (shared and static), the public headers, the CMake
# package, stage.pc, the stage command and its man page in place; then the
# C example examples/c/counter.c, built outside the tree against the
# installed library — with pkg-config, and with find_package(Stage) both
# shared and static — runs and prints what the in-tree build prints.
set -u
build=${1:?usage: install.sh BUILD_DIR SRC_DIR}
src=${2:?usage: install.sh BUILD_DIR SRC_DIR}
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "FAIL: $*"; exit 1; }

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; fail "cmake --install"; }
libdir=$(dirname "$(find "$prefix" -name stage.pc)")/..
for f in "$libdir/libstage.so" "$libdir/libstage.a" \
    "$prefix/include/stage/stage.h" "$prefix/include/stage/net.h" \
    "$libdir/cmake/Stage/StageConfig.cmake" "$libdir/pkgconfig/stage.pc" \
    "$prefix/bin/stage" "$prefix/share/man/man1/stage.1"; do
    [ -e "$f" ] || fail "cmake --install did not install ${f#"$prefix"/}"
done
# Only the public API leaves the shared library.
leaked=$(nm -D --defined-only "$libdir/libstage.so" | awk '{print $3}' |
    grep -v '^stage_' | grep -v '^_' | head -n 5)
[ -z "$leaked" ] || fail "libstage.so exports internal symbols: $leaked"
leaked=$(nm -D --defined-only "$libdir/libstage.so" | awk '{print $3}' |
    grep '^stage__' | head -n 5)
[ -z "$leaked" ] || fail "libstage.so exports internal symbols: $leaked"

# run NAME BINARY: the example's output must be the in-tree one.
run() {
    LD_LIBRARY_PATH=$libdir timeout -k 2 30 "$2" "$src/examples/c/counter.lua" \
        >"$tmp/$1.out" 2>"$tmp/$1.err" </dev/null
    rc=$?
    [ $rc -eq 0 ] || { cat "$tmp/$1.err"; fail "$1: exit status $rc"; }
    diff -u "$src/tests/examples/c_counter.out" "$tmp/$1.out" ||
        fail "$1: output differs"
    [ -s "$tmp/$1.err" ] && { cat "$tmp/$1.err"; fail "$1: wrote to stderr"; }
    echo "ok: $1"
}

# With pkg-config.
export PKG_CONFIG_PATH=$libdir/pkgconfig
cc=${CC:-cc}
flags=${CONSUMER_FLAGS:-} # the library's sanitizer, if it has one
# shellcheck disable=SC2046,SC2086
$cc $flags -o "$tmp/counter_pc" "$src/examples/c/counter.c" \
    $(pkg-config --cflags stage) $(pkg-config --libs stage) ||
    fail "building against the installed library with pkg-config"
run pkg-config "$tmp/counter_pc"

# With CMake: find_package(Stage) gives Stage::stage and Stage::stage_static.
mkdir -p "$tmp/consumer"
cp "$src/examples/c/counter.c" "$tmp/consumer/"
cat >"$tmp/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(consumer C)
find_package(Stage 0.1 REQUIRED)
add_executable(counter counter.c)
target_link_libraries(counter PRIVATE Stage::stage)
add_executable(counter_static counter.c)
target_link_libraries(counter_static PRIVATE Stage::stage_static)
CMAKE
cmake -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_PREFIX_PATH="$prefix" \
    >"$tmp/cmake.log" 2>&1 &&
    cmake --build "$tmp/consumer/build" >>"$tmp/cmake.log" 2>&1 ||
    { cat "$tmp/cmake.log"; fail "building against the installed package with CMake"; }
run cmake-shared "$tmp/consumer/build/counter"
ldd "$tmp/consumer/build/counter_static" | grep -q libstage &&
    fail "counter_static links libstage.so"
run cmake-static "$tmp/consumer/build/counter_static"

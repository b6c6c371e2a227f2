/*
** tests/fuzz/libfuzz_wire.c: the wire checks as a libFuzzer target
** (optional, clang only, not in CI):
**
**     CC=clang cmake -S . -B build-fuzz -DSTAGE_LIBFUZZER=ON
**     cmake --build build-fuzz --target libfuzz_wire
**     build-fuzz/tests/fuzz/libfuzz_wire -max_total_time=60
*/
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>

#include "wire_checks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    static lua_State *L;
    char why[300];
    if (!L) L = luaL_newstate();
    if (stage_fuzz_wire_one(L, data, len, why, sizeof why)) {
        fprintf(stderr, "libfuzz_wire: %s\n", why);
        abort();
    }
    return 0;
}

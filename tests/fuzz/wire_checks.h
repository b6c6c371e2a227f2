/*
** tests/fuzz/wire_checks.h: the properties every wire reader must keep on
** any input, shared by the mutation fuzzer (fuzz_wire.c, a ctest) and the
** libFuzzer target (libfuzz_wire.c, optional, clang only).
*/
#ifndef STAGE_FUZZ_WIRE_CHECKS_H
#define STAGE_FUZZ_WIRE_CHECKS_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

/* Run the cursor, stage_pack_validate, the Lua value decoder and the frame
** decoder over data[0..len) and check that they agree with each other and
** leave no trace of a failure. 0, or 1 with the broken property in why.
** L is a Lua state whose stack the check leaves as it found it. */
int stage_fuzz_wire_one(lua_State *L, const uint8_t *data, size_t len,
                        char *why, size_t whylen);

#endif

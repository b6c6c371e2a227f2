/*
** tests/unit/test_rng.h: the unit tests' random numbers — xorshift64, so a
** seed gives the same run everywhere.
*/
#ifndef STAGE_TEST_RNG_H
#define STAGE_TEST_RNG_H

#include <stdint.h>

/* The next number of the sequence in *s (not 0). */
static inline uint64_t test_xorshift(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#endif

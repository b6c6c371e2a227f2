/*
** tests/sim/sim_util.h: what every protocol simulator here shares — the
** seed and virtual clock, a xorshift generator, die/CHECK that name the
** seed and the command that replays it, and trace. Define SIM_NAME (the
** program's name, e.g. "node_sim") before including it.
*/
#ifndef SIM_UTIL_H
#define SIM_UTIL_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t seed, now, rng; /* the run's seed, virtual ms, generator */
static bool tracing;            /* print every event (trace) */

/* Report a failure of this seed, and how to replay it; exit 1. */
static _Noreturn void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, SIM_NAME ": seed %" PRIu64 " at %" PRIu64 " ms: ", seed,
            now);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n  replay: " SIM_NAME " %" PRIu64 " 1\n", seed);
    va_end(ap);
    exit(1);
}

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) die("check failed: %s (line %d)", #c, __LINE__);             \
    } while (0)

/* One line of the event trace, stamped with the virtual time. */
static inline void trace(const char *fmt, ...) {
    if (!tracing) return;
    va_list ap;
    va_start(ap, fmt);
    printf("%6" PRIu64 " ", now);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

/* A number in [0, n) (0 if n is 0). */
static inline uint64_t rnd(uint64_t n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return n ? rng % n : 0;
}

#endif

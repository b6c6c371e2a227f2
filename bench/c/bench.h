/*
** bench/c/bench.h: what the C benchmarks share — the clock, the JSON line
** they print, reading a count from argv, and running a node with a set of
** native types and one driver actor.
** Threads: bench_run from main; the others from any thread.
*/
#ifndef STAGE_BENCH_H
#define STAGE_BENCH_H

#include <stdint.h>

#include "stage/stage.h"

/* Monotonic time in seconds. */
double bench_now(void);

/* argv[1] as a positive count, or dflt when absent. Exits with status 2 and
** a message on anything else. */
int64_t bench_count(int argc, char **argv, int64_t dflt);

/* Print the result line {"bench":..., "impl":"c", ...} and flush. */
void bench_report(const char *bench, double value, const char *unit,
                  const char *better);

/* The time ms of a program whose result is a sum: report it if got is
** want, else say so and stop the node with status 1. */
void bench_report_sum(stage_ctx_t *ctx, const char *bench, int64_t got,
                      int64_t want, double ms);

/* The resident set size of this process in bytes (/proc/self/statm), or -1. */
int64_t bench_rss(void);

/* Send method(v) / method(id) to 'to', no reply wanted. 0 or a STAGE_E*
** code. On the running actor's theatre. */
int bench_send_int(stage_ctx_t *ctx, const stage_id_t *to, const char *method,
                   int64_t v);
int bench_send_id(stage_ctx_t *ctx, const stage_id_t *to, const char *method,
                  const stage_id_t *id);

/* Read the next argument of a message as an integer; on a malformed
** message report it and exit with status 1 (a benchmark bug). */
int64_t bench_arg_int(stage_unpack_t *u);
/* The same for an actor id. */
void bench_arg_id(stage_unpack_t *u, stage_id_t *id);

/* Create a node (one theatre per core), register types (ending with NULL),
** spawn 'driver' on theatre 0 with birth argument [count], and run until
** quiescence. Returns the exit status. */
int bench_run(const stage_type_def_t *const *types, const char *driver,
              int64_t count);

#endif

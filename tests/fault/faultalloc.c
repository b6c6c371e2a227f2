/*
** tests/fault/faultalloc.c: see faultalloc.h. Counters are atomics: the
** theatres and the I/O thread allocate at once. The count is taken before
** the call, so the nth allocation is the nth to start, whichever thread.
*/
#include <execinfo.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef STAGE_SANITIZE
#include <sanitizer/common_interface_defs.h>
#endif

#include "faultalloc.h"
#include "stage/stage.h"

static atomic_uint_fast64_t count, fail_at, failed;
static atomic_bool persistent_fail;
static atomic_long live;
static int trace = -1; /* STAGE_FAULT_TRACE=1: where the failures are */

/* Print where the failing allocation was asked for. */
static void print_trace(uint64_t n) {
    if (trace < 0) trace = getenv("STAGE_FAULT_TRACE") != NULL;
    if (!trace) return;
    fprintf(stderr, "faultalloc: allocation %llu fails here:\n",
            (unsigned long long)n);
#ifdef STAGE_SANITIZE
    __sanitizer_print_stack_trace();
#else
    void *pcs[32];
    backtrace_symbols_fd(pcs, backtrace(pcs, 32), 2);
#endif
}

/* 1 if the allocation starting now must fail. */
static bool must_fail(void) {
    uint64_t n = atomic_fetch_add(&count, 1) + 1;
    uint64_t at = atomic_load(&fail_at);
    if (!at || n < at || (n > at && !atomic_load(&persistent_fail)))
        return false;
    atomic_fetch_add(&failed, 1);
    print_trace(n);
    return true;
}

static void *f_malloc(size_t size) {
    if (must_fail()) return NULL;
    void *p = malloc(size);
    if (p) atomic_fetch_add(&live, 1);
    return p;
}

static void *f_calloc(size_t count_, size_t size) {
    if (must_fail()) return NULL;
    void *p = calloc(count_, size);
    if (p) atomic_fetch_add(&live, 1);
    return p;
}

static void *f_realloc(void *ptr, size_t size) {
    if (must_fail()) return NULL;
    void *p = realloc(ptr, size);
    if (p && !ptr) atomic_fetch_add(&live, 1);
    return p;
}

static void f_free(void *ptr) {
    if (!ptr) return;
    atomic_fetch_sub(&live, 1);
    free(ptr);
}

void fault_install(void) {
    int rc = stage_replace_allocator(f_malloc, f_realloc, f_calloc, f_free);
    if (rc) {
        fprintf(stderr, "fault_install: %s\n", stage_strerror(rc));
        abort();
    }
}

void fault_arm(uint64_t nth, bool persistent) {
    atomic_store(&fail_at, 0);
    atomic_store(&count, 0);
    atomic_store(&failed, 0);
    atomic_store(&persistent_fail, persistent);
    atomic_store(&fail_at, nth);
}

uint64_t fault_disarm(void) {
    atomic_store(&fail_at, 0);
    return atomic_load(&count);
}

uint64_t fault_failed(void) {
    return atomic_load(&failed);
}

long fault_live(void) {
    return atomic_load(&live);
}

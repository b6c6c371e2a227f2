/*
** tests/fault/faultalloc.h: a test-only allocator that fails on demand
** (Lua's Memcontrol.failnext, SQLite's test_malloc.c), installed through
** the public hook stage_replace_allocator.
**
** It counts the allocations (malloc, calloc, realloc) made since fault_arm
** and fails the nth one: once (a transient failure, as a busy system
** gives), or that one and every one after it (persistent). It also counts
** the blocks allocated and not yet freed, so a test sees a leak in any
** build, not only under AddressSanitizer. Any thread.
** STAGE_FAULT_TRACE=1 prints the stack of every failed allocation.
*/
#ifndef STAGE_TEST_FAULTALLOC_H
#define STAGE_TEST_FAULTALLOC_H

#include <stdbool.h>
#include <stdint.h>

/* Install the allocator: before any other Stage call. Aborts if Stage
** refuses (it allocated already). */
void fault_install(void);

/* Count allocations from 0; fail the nth from now (1-based; 0: none), and
** with persistent every one after it too. */
void fault_arm(uint64_t nth, bool persistent);

/* Stop failing. Returns the allocations counted since fault_arm. */
uint64_t fault_disarm(void);

/* Allocations failed since fault_arm. */
uint64_t fault_failed(void);

/* Blocks allocated through the hook and not freed. */
long fault_live(void);

#endif

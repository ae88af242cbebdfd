/*
 * alloc.h - the one allocation wrapper, with a fault-injection hook.
 *
 * All of flint allocates through fl_malloc/fl_calloc/fl_realloc/fl_strdup and
 * releases with fl_free (a no-op on NULL).  NULL means out of memory and
 * nothing else; every caller handles it.  Tests call fl_fault_fail_after(n)
 * to make the (n+1)-th allocation from now fail (SQLite's sqlite3FaultSim
 * idea), then fl_fault_reset(); the OOM paths of parsers and writers are
 * exercised that way.
 */
#ifndef FLINT_ALLOC_H
#define FLINT_ALLOC_H

#include <stddef.h>

void *fl_malloc(size_t n);
void *fl_calloc(size_t count, size_t size);
void *fl_realloc(void *p, size_t n);
char *fl_strdup(const char *s);
char *fl_strndup(const char *s, size_t n);
void fl_free(void *p);

/* Fault injection (tests only): after `n` more successful allocations, every
 * allocation fails until fl_fault_reset(). n < 0 disables. Per process. */
void fl_fault_fail_after(long n);
void fl_fault_reset(void);
/* Number of allocations failed by the hook since the last reset. */
long fl_fault_failures(void);

/* Grow *buf (capacity *cap, element size `elem`) to hold at least `need`
 * elements, doubling. Returns 0 or FLINT_ENOMEM (buffer unchanged). */
int fl_grow(void **buf, size_t *cap, size_t need, size_t elem);

/* Long-running processes (the server): make freed memory go back to the
 * system instead of staying resident in glibc's heaps. Large buffers (a
 * scrape body, a commit's WAL record) are mapped and unmapped on their own
 * instead of growing a heap, and each thread arena does not keep more than
 * a little free memory on top. Call once at start, before threads. */
void fl_mem_policy_server(void);
/* Return free heap memory of every arena to the system (glibc
 * malloc_trim); cheap when there is nothing to give back. */
void fl_mem_release(void);

#endif

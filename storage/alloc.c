/*
 * alloc.c - allocation wrapper with a fail-after-N hook (see alloc.h).
 */
#include "storage/alloc.h"
#include "storage/err.h"

#include <stdatomic.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>

static atomic_long fault_countdown = -1;
static atomic_long fault_failures = 0;

static int fault_hit(void) {
    long c = atomic_load_explicit(&fault_countdown, memory_order_relaxed);
    if (c < 0) return 0;
    if (c == 0) {
        atomic_fetch_add(&fault_failures, 1);
        return 1;
    }
    atomic_fetch_sub(&fault_countdown, 1);
    return 0;
}

void fl_fault_fail_after(long n) {
    atomic_store(&fault_failures, 0);
    atomic_store(&fault_countdown, n);
}
void fl_fault_reset(void) { atomic_store(&fault_countdown, -1); }
long fl_fault_failures(void) { return atomic_load(&fault_failures); }

void *fl_malloc(size_t n) {
    if (fault_hit()) return NULL;
    return malloc(n ? n : 1);
}

void *fl_calloc(size_t count, size_t size) {
    if (fault_hit()) return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *fl_realloc(void *p, size_t n) {
    if (fault_hit()) return NULL;
    return realloc(p, n ? n : 1);
}

char *fl_strndup(const char *s, size_t n) {
    char *d = fl_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *fl_strdup(const char *s) { return fl_strndup(s, strlen(s)); }

void fl_free(void *p) { free(p); }

int fl_grow(void **buf, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 8;
    while (nc < need) nc *= 2;
    void *nb = fl_realloc(*buf, nc * elem);
    if (!nb) return FLINT_ENOMEM;
    *buf = nb;
    *cap = nc;
    return 0;
}

void fl_mem_policy_server(void) {
#ifdef __GLIBC__
    /* A fixed threshold: glibc otherwise raises it (up to 32 MiB) each time
     * a mapped chunk is freed, after which a scrape body or a WAL batch is
     * carved from a heap and its pages stay resident when freed. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
    /* Query threads come and go (one per HTTP connection): two arenas per
     * core bound how many heaps hold free memory. */
    mallopt(M_ARENA_MAX, 4);
#endif
}

void fl_mem_release(void) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

/*
 * arena.c - bump allocator over a list of fl_malloc'd blocks (see arena.h).
 * Small requests share 4 KiB blocks; a request larger than a block gets a
 * block of its own placed behind the current one, so the current block's
 * free tail is not wasted.
 */
#include "scrape/arena.h"
#include "storage/alloc.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#define ARENA_BLOCK 4096
#define ARENA_ALIGN alignof(max_align_t)

struct scrape_arena_block {
    scrape_arena_block *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

void scrape_arena_init(scrape_arena *a) {
    a->head = NULL;
    a->bytes = 0;
}

void *scrape_arena_alloc(scrape_arena *a, size_t n) {
    if (n > SIZE_MAX / 2) return NULL;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need == 0) need = ARENA_ALIGN;
    scrape_arena_block *b = a->head;
    if (!b || b->cap - b->used < need) {
        size_t cap = need > ARENA_BLOCK ? need : ARENA_BLOCK;
        scrape_arena_block *nb = fl_malloc(sizeof *nb + cap);
        if (!nb) return NULL;
        nb->used = 0;
        nb->cap = cap;
        if (b && cap > ARENA_BLOCK) {
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->head = nb;
        }
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += need;
    a->bytes += need;
    return p;
}

void *scrape_arena_calloc(scrape_arena *a, size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) return NULL;
    void *p = scrape_arena_alloc(a, count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

char *scrape_arena_strndup(scrape_arena *a, const char *s, size_t n) {
    char *d = scrape_arena_alloc(a, n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *scrape_arena_strdup(scrape_arena *a, const char *s) { return scrape_arena_strndup(a, s, strlen(s)); }

void scrape_arena_reset(scrape_arena *a) {
    scrape_arena_block *keep = a->head;
    if (!keep) return;
    for (scrape_arena_block *b = keep->next, *next; b; b = next) {
        next = b->next;
        fl_free(b);
    }
    keep->next = NULL;
    keep->used = 0;
    a->bytes = 0;
}

void scrape_arena_free(scrape_arena *a) {
    for (scrape_arena_block *b = a->head, *next; b; b = next) {
        next = b->next;
        fl_free(b);
    }
    scrape_arena_init(a);
}

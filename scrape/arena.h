/*
 * arena.h - a bump allocator for the scrape layer: the parsed configuration,
 * file_sd target groups and the strings relabelling creates all live in one
 * arena each and are released together.
 *
 * Blocks come from fl_malloc, so fault injection reaches every arena
 * allocation. NULL means out of memory; the arena stays usable and keeps
 * what it held before the failed call.
 */
#ifndef FLINT_SCRAPE_ARENA_H
#define FLINT_SCRAPE_ARENA_H

#include <stddef.h>

typedef struct scrape_arena_block scrape_arena_block;

typedef struct scrape_arena {
    scrape_arena_block *head; /* newest block first */
    size_t bytes;             /* bytes handed out since init/reset */
} scrape_arena;

void scrape_arena_init(scrape_arena *a);
/* n bytes aligned for any scalar type; NULL on OOM. n == 0 gives a valid
 * unique pointer. */
void *scrape_arena_alloc(scrape_arena *a, size_t n);
/* Zeroed count*size bytes; NULL on OOM or overflow. */
void *scrape_arena_calloc(scrape_arena *a, size_t count, size_t size);
/* NUL-terminated copy of s[0..n). */
char *scrape_arena_strndup(scrape_arena *a, const char *s, size_t n);
char *scrape_arena_strdup(scrape_arena *a, const char *s);
/* Forget everything allocated, keeping one block for reuse: every pointer
 * the arena handed out becomes invalid. */
void scrape_arena_reset(scrape_arena *a);
/* Release all blocks; the arena is re-initialised (a no-op when empty). */
void scrape_arena_free(scrape_arena *a);

#endif

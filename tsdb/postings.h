/*
 * postings.h - sorted lists of series refs ("postings") and the iterators
 * that combine them (intersect, union, subtract), generic over any source of
 * sorted uint64 lists: the head's in-memory index below, and block indexes.
 * Also the in-memory postings index of the head ((name, value) -> refs) and
 * the selection of series by label matchers, Prometheus'
 * PostingsForMatchers, over any index through a small typed ops table.
 *
 * Called by tsdb/head.c (index of active series) and, later, the block
 * reader and querier. Relies on tsdb/labels.h for matchers.
 */
#ifndef FLINT_POSTINGS_H
#define FLINT_POSTINGS_H

#include "tsdb/labels.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- iterators ---------------------------------------------------------------
 * An iterator yields strictly increasing refs. Usage:
 *     while (postings_next(p)) use(postings_at(p));
 *     if (postings_err(p)) ...
 * seek(v) advances to the first ref >= v (never moves back) and may be
 * called before the first next(). A new source (say, a block's encoded
 * lists) embeds `postings` as its first member and supplies an ops table. */
typedef struct postings postings;

typedef struct postings_ops {
    bool (*next)(postings *p);
    bool (*seek)(postings *p, uint64_t v);
    void (*destroy)(postings *p); /* free p and everything it owns */
} postings_ops;

struct postings {
    const postings_ops *ops;
    uint64_t cur; /* valid after next/seek returned true */
    int err;      /* 0 or a negative FLINT_E*; once set, next/seek return false */
};

static inline bool postings_next(postings *p) { return p->ops->next(p); }
static inline bool postings_seek(postings *p, uint64_t v) { return p->ops->seek(p, v); }
static inline uint64_t postings_at(const postings *p) { return p->cur; }
static inline int postings_err(const postings *p) { return p->err; }
/* NULL is a no-op. */
void postings_free(postings *p);

/* Constructors return 0 or FLINT_ENOMEM. Those taking iterators take
 * ownership of them, also when they fail (the inputs are freed then). */

/* An iterator with no refs. */
int postings_empty_new(postings **out);
/* Over a sorted array, borrowed: it must outlive the iterator unchanged. */
int postings_list_new(const uint64_t *refs, size_t n, postings **out);
/* Over a sorted array the iterator takes ownership of (fl_free'd with it). */
int postings_list_owned_new(uint64_t *refs, size_t n, postings **out);
/* Refs present in every one of its[0..n) (n == 0: empty). */
int postings_intersect_new(postings **its, size_t n, postings **out);
/* Refs present in any of its[0..n) (a k-way merge; n == 0: empty). */
int postings_union_new(postings **its, size_t n, postings **out);
/* Refs of `full` not in `drop`. */
int postings_without_new(postings *full, postings *drop, postings **out);
/* True for iterators made by postings_empty_new (lets selection stop early). */
bool postings_is_empty_type(const postings *p);

/* A growable sorted ref array (results of selection). */
typedef struct postings_vec {
    uint64_t *v;
    size_t n, cap;
} postings_vec;
void postings_vec_free(postings_vec *pv);
int postings_vec_push(postings_vec *pv, uint64_t ref);

/* Drain p into out (appended; out is not reset). Returns 0, FLINT_ENOMEM, or
 * p's error. Does not free p. */
int postings_expand(postings *p, postings_vec *out);

/* ---- selection by matchers over any index ----------------------------------- */
typedef struct postings_index postings_index;
typedef struct postings_index_ops {
    /* Call fn(arg, value) for every value of label `name` (any order);
     * stop and return fn's value when it returns non-zero. */
    int (*for_each_value)(const postings_index *ix, const char *name,
                          int (*fn)(void *arg, const char *value), void *arg);
    /* Iterator over refs of series with name=value (empty if none). */
    int (*get)(const postings_index *ix, const char *name, const char *value, postings **out);
    /* Iterator over every series ref. */
    int (*all)(const postings_index *ix, postings **out);
} postings_index_ops;
struct postings_index {
    const postings_index_ops *ops;
};

/* Prometheus' PostingsForMatchers: the series matching all of ms[0..n).
 * A matcher that accepts "" also selects series without the label
 * ({a=""}, {a!="x"}, {a=~"x|"}, {a!~".+"}). n == 0 selects nothing.
 * The iterator may borrow from the index: use it while the index is
 * unchanged (for the head: under mem_postings_rdlock). Matchers are used
 * (not modified, but matcher_matches is not re-entrant per matcher). */
int postings_for_matchers(const postings_index *ix, const matcher *ms, size_t n, postings **out);

/* ---- the head's in-memory index ------------------------------------------------
 * (name, value) -> sorted refs, plus the list of all refs. Strings passed to
 * add are stored by pointer: they must outlive the index (the head passes
 * interned strings). Thread-safe: add/delete take the write lock; readers
 * bracket their use of borrowed lists and iterators with rdlock/unlock. */
typedef struct mem_postings mem_postings;

int mem_postings_new(mem_postings **out);
void mem_postings_free(mem_postings *mp);
/* Add ref under each label pair and to the all-list. Refs usually arrive
 * increasing; an earlier one is put in place (insertion), as in Prometheus.
 * FLINT_ENOMEM leaves the index as it was. */
int mem_postings_add(mem_postings *mp, uint64_t ref, const labels *l);
/* Remove the refs in sorted del[0..n) from every list; empty lists and names
 * disappear. Never fails (shrinks in place). */
void mem_postings_delete(mem_postings *mp, const uint64_t *del, size_t n);

void mem_postings_rdlock(mem_postings *mp);
void mem_postings_unlock(mem_postings *mp);
/* The postings_index view of mp (valid for mp's lifetime; use it under the
 * read lock). */
const postings_index *mem_postings_index(mem_postings *mp);

/* Selection into a caller vector (takes the read lock itself). */
int mem_postings_select(mem_postings *mp, const matcher *ms, size_t n, postings_vec *out);

/* Label names / values present (stored pointers, borrowed for the index's
 * lifetime), in byte order, appended to *out (a growable array of
 * const char*; caller fl_frees it). */
int mem_postings_label_names(mem_postings *mp, const char ***out, size_t *n);
int mem_postings_label_values(mem_postings *mp, const char *name, const char ***out, size_t *n);
/* Number of series in the all-list; bytes held by lists and tables. */
size_t mem_postings_num_series(mem_postings *mp);
size_t mem_postings_bytes(mem_postings *mp);

#endif

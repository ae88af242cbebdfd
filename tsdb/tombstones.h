/*
 * tombstones.h - deletion of series data (the admin API's delete_series),
 * private to tsdb/. Each delete request (matchers + [mint, maxt]) is kept
 * whole rather than expanded into per-series intervals, in an immutable,
 * reference-counted set swapped under a mutex; the set persists in
 * DIR/delete_requests (docs/api.md "Admin API" shows the line format),
 * written atomically, so a request survives restarts without WAL records.
 *
 * Readers: a querier takes a reference on the set at open; for each series
 * tomb_series() lists the deleted intervals that apply to its labels, and
 * tomb_filter_views() rewrites the chunks it reads without those samples. clean_tombstones rewrites
 * the blocks holding deleted samples and trims the requests to the part
 * that can still be in the head. Implemented in tsdb/delete.c.
 */
#ifndef FLINT_TSDB_TOMBSTONES_H
#define FLINT_TSDB_TOMBSTONES_H

#include "tsdb/head.h"
#include "tsdb/labels.h"
#include "tsdb/seriesiter.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tsdb;
typedef struct tomb_set tomb_set;

/* Deleted intervals of one series, sorted and merged; caller-allocated. */
typedef struct tomb_ivs {
    int64_t *mint, *maxt;
    size_t n, cap;
} tomb_ivs;

void tomb_ivs_free(tomb_ivs *iv);
/* Is t inside one of the intervals? */
bool tomb_ivs_has(const tomb_ivs *iv, int64_t t);

/* Load DIR/delete_requests at open (none: empty) / free at close. */
int tomb_open(struct tsdb *db);
void tomb_close(struct tsdb *db);
/* A reference on the current set, NULL when there are no requests. */
tomb_set *tomb_acquire(struct tsdb *db);
void tomb_release(tomb_set *s);
/* Replace iv with the intervals that apply to series l (n = 0: none). */
int tomb_series(tomb_set *s, const labels *l, tomb_ivs *iv);
/* Rewrite the chunk views (sorted by mint) of one series without the
 * samples inside iv or outside [mint, maxt] (so a series with nothing left
 * in the query range ends with *n == 0 and is skipped): untouched views
 * stay as they are, touched ones are decoded, filtered, re-encoded and
 * added to hcs (the querier's per-series head chunk set: bytes and an
 * entry each), views left empty are dropped (*n shrinks). Views and
 * entries that pointed into hcs's bytes are moved with them. Whatever
 * copies the current series' head chunks (readers that keep a series past
 * next()) so copies the rewritten chunks too: every read path sees the
 * deletion. */
int tomb_filter_views(const tomb_ivs *iv, int64_t mint, int64_t maxt, chunk_view *v, size_t *n,
                      head_chunk_set *hcs);

#endif
